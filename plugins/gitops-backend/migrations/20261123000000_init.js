/*
 * The gitops plugin's own tables. Applications themselves live in the
 * cluster; the database keeps what the cluster can't: history, inventory,
 * and the automation switch.
 */

/** @param {import('knex').Knex} knex */
exports.up = async function up(knex) {
  await knex.schema.createTable('gitops_reconcile_runs', table => {
    table.comment('One reconcile of one Application');
    table.bigIncrements('id').primary();
    table.string('app_key').notNullable().comment('cluster/namespace/name');
    table.string('trigger').notNullable().comment('poll, webhook, manual or watch');
    table.timestamp('started_at', { useTz: true }).notNullable();
    table.timestamp('finished_at', { useTz: true });
    table.string('revision').comment('branch@sha1:<sha> of the Git source, if any');
    table.string('result').comment('succeeded or failed; null while running');
    table.text('error');
    table.integer('objects_changed');
    table.index(['app_key', 'started_at']);
  });

  await knex.schema.createTable('gitops_image_history', table => {
    table.comment('Every image update the automation committed');
    table.bigIncrements('id').primary();
    table.string('app_key').notNullable();
    table.string('component').notNullable();
    table.string('image').notNullable();
    table.string('old_tag');
    table.string('new_tag').notNullable();
    table.string('policy').comment('The policy as text, e.g. numerical asc');
    table.string('commit_sha');
    table.string('trigger').notNullable();
    table.timestamp('detected_at', { useTz: true }).notNullable();
    table.timestamp('pushed_at', { useTz: true });
    table.timestamp('applied_at', { useTz: true });
    table.timestamp('healthy_at', { useTz: true });
    table.index(['app_key', 'detected_at']);
  });

  await knex.schema.createTable('gitops_inventory', table => {
    table.comment('The objects each Application applied, for pruning');
    table.string('app_key').primary();
    table.text('entries').notNullable().comment('JSON array of object refs');
    table.timestamp('updated_at', { useTz: true }).notNullable();
  });

  await knex.schema.createTable('gitops_automation', table => {
    table.comment('Image update automation suspended by a person');
    table.string('app_key').primary();
    table.boolean('suspended').notNullable().defaultTo(false);
    table.string('changed_by');
    table.timestamp('updated_at', { useTz: true }).notNullable();
  });
};

/** @param {import('knex').Knex} knex */
exports.down = async function down(knex) {
  await knex.schema.dropTable('gitops_automation');
  await knex.schema.dropTable('gitops_inventory');
  await knex.schema.dropTable('gitops_image_history');
  await knex.schema.dropTable('gitops_reconcile_runs');
};
