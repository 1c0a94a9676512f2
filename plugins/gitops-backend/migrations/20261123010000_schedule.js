/*
 * When each Application is due, and "Sync now" requests, in the shared
 * database: whichever replica runs an Application's shard reads them, so a
 * shard that moves to another replica keeps its schedule and requests.
 */

/** @param {import('knex').Knex} knex */
exports.up = async function up(knex) {
  await knex.schema.createTable('gitops_schedule', table => {
    table.comment(
      'Next reconcile time and pending sync request per Application',
    );
    table.string('app_key').primary();
    table.timestamp('next_at', { useTz: true });
    table
      .string('requested_trigger')
      .comment('manual or webhook, until the reconcile starts');
    table.timestamp('requested_at', { useTz: true });
  });
};

/** @param {import('knex').Knex} knex */
exports.down = async function down(knex) {
  await knex.schema.dropTable('gitops_schedule');
};
