/*
 * A pass's run row names the terraform components it found changed outside
 * Git (drift), so the runs and the timeline keep it after the status moved on.
 */

/** @param {import('knex').Knex} knex */
exports.up = async function up(knex) {
  await knex.schema.alterTable('gitops_reconcile_runs', table => {
    table
      .text('cloud_drift')
      .nullable()
      .comment(
        'JSON list: terraform components found drifted, and what changed',
      );
  });
};

/** @param {import('knex').Knex} knex */
exports.down = async function down(knex) {
  await knex.schema.alterTable('gitops_reconcile_runs', table => {
    table.dropColumn('cloud_drift');
  });
};
