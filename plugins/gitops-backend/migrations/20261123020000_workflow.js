/*
 * Each Application's workflow state: where its run stands (steps, phases,
 * times), what it applied on each cluster, and the revisions kept for
 * rollback. It survives restarts, so a suspended step stays suspended.
 */

/** @param {import('knex').Knex} knex */
exports.up = async function up(knex) {
  await knex.schema.createTable('gitops_workflow_state', table => {
    table.comment('Workflow state per Application (JSON)');
    table.string('app_key').primary();
    table.text('state');
    table
      .text('commands')
      .comment('JSON list of resume/rollback requests the next pass applies');
    table.timestamp('updated_at', { useTz: true }).notNullable();
  });
};

/** @param {import('knex').Knex} knex */
exports.down = async function down(knex) {
  await knex.schema.dropTable('gitops_workflow_state');
};
