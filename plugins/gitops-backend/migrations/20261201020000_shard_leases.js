/*
 * Which replica holds each shard, and until when: a pass checks it before
 * every write, so a pass that outlived its lease stops instead of writing
 * beside the replica that took the shard over.
 */

/** @param {import('knex').Knex} knex */
exports.up = async function up(knex) {
  await knex.schema.createTable('gitops_shard_leases', table => {
    table.comment('The replica running each reconcile shard, until expires_at');
    table.integer('shard').primary();
    table.string('holder').notNullable();
    table.timestamp('expires_at', { useTz: true }).notNullable();
  });
};

/** @param {import('knex').Knex} knex */
exports.down = async function down(knex) {
  await knex.schema.dropTable('gitops_shard_leases');
};
