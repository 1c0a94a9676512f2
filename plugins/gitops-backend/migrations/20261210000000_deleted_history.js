/*
 * A deleted Application's history stays for its retention period, marked
 * with when the Application was deleted: a new Application of the same name
 * starts a history of its own beside it.
 */

/** @param {import('knex').Knex} knex */
exports.up = async function up(knex) {
  for (const name of ['gitops_reconcile_runs', 'gitops_image_history']) {
    await knex.schema.alterTable(name, table => {
      table
        .timestamp('app_deleted_at', { useTz: true })
        .comment('When the Application this row belongs to was deleted');
    });
  }
};

/** @param {import('knex').Knex} knex */
exports.down = async function down(knex) {
  for (const name of ['gitops_reconcile_runs', 'gitops_image_history']) {
    await knex.schema.alterTable(name, table => {
      table.dropColumn('app_deleted_at');
    });
  }
};
