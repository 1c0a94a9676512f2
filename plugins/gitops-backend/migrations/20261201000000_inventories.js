/*
 * One inventory per (Application, cluster). Until now an Application
 * without a workflow kept its inventory in gitops_inventory (one row for its
 * home cluster, the first part of its key) and one with a workflow inside its
 * workflow state; both move here, so there is exactly one place.
 */

/** @param {import('knex').Knex} knex */
exports.up = async function up(knex) {
  await knex.schema.createTable('gitops_inventories', table => {
    table.comment('The objects each Application applied on each cluster, for pruning');
    table.string('app_key').notNullable();
    table.string('cluster').notNullable();
    table.text('entries').notNullable().comment('JSON array of object refs');
    table.timestamp('updated_at', { useTz: true }).notNullable();
    table.primary(['app_key', 'cluster']);
  });
  const now = new Date();
  const rows = new Map();
  for (const row of await knex('gitops_inventory').select()) {
    const cluster = row.app_key.split('/')[0];
    rows.set(`${row.app_key}\u0000${cluster}`, {
      app_key: row.app_key,
      cluster,
      entries: row.entries,
      updated_at: now,
    });
  }
  for (const row of await knex('gitops_workflow_state').whereNotNull('state')) {
    const state = JSON.parse(row.state);
    for (const [cluster, entries] of Object.entries(state.inventories ?? {})) {
      rows.set(`${row.app_key}\u0000${cluster}`, {
        app_key: row.app_key,
        cluster,
        entries: JSON.stringify(entries),
        updated_at: now,
      });
    }
    delete state.inventories;
    await knex('gitops_workflow_state')
      .where({ app_key: row.app_key })
      .update({ state: JSON.stringify(state) });
  }
  for (const row of rows.values()) await knex('gitops_inventories').insert(row);
  await knex.schema.dropTable('gitops_inventory');
};

/** @param {import('knex').Knex} knex */
exports.down = async function down(knex) {
  await knex.schema.createTable('gitops_inventory', table => {
    table.string('app_key').primary();
    table.text('entries').notNullable();
    table.timestamp('updated_at', { useTz: true }).notNullable();
  });
  await knex.schema.dropTable('gitops_inventories');
};
