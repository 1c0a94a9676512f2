/*
 * The `terraform` components of Applications: what OpenTofu planned,
 * applied and found drifted, and a plan waiting for approval. The state
 * itself lives in the cluster (OpenTofu's kubernetes backend).
 */

/** @param {import('knex').Knex} knex */
exports.up = async function up(knex) {
  await knex.schema.createTable('gitops_cloud_resources', table => {
    table.comment('OpenTofu runs of terraform components, per Application');
    table.string('app_key').notNullable();
    table.string('component').notNullable();
    table
      .text('record')
      .notNullable()
      .comment('JSON: status, inputs, pending plan');
    table.timestamp('updated_at', { useTz: true }).notNullable();
    table.primary(['app_key', 'component']);
  });
};

/** @param {import('knex').Knex} knex */
exports.down = async function down(knex) {
  await knex.schema.dropTable('gitops_cloud_resources');
};
