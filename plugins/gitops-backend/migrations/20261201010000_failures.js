/*
 * Failures back off, and a failure that repeats is one run row: `repeats`
 * counts how often it happened between its started_at (first seen) and
 * finished_at (last seen); `failures` counts failed passes in a row.
 */

/** @param {import('knex').Knex} knex */
exports.up = async function up(knex) {
  await knex.schema.alterTable('gitops_reconcile_runs', table => {
    table
      .integer('repeats')
      .notNullable()
      .defaultTo(1)
      .comment('How many passes failed the same way, from started_at to finished_at');
  });
  await knex.schema.alterTable('gitops_schedule', table => {
    table
      .integer('failures')
      .notNullable()
      .defaultTo(0)
      .comment('Failed passes in a row, for backoff');
  });
};

/** @param {import('knex').Knex} knex */
exports.down = async function down(knex) {
  await knex.schema.alterTable('gitops_reconcile_runs', table => {
    table.dropColumn('repeats');
  });
  await knex.schema.alterTable('gitops_schedule', table => {
    table.dropColumn('failures');
  });
};
