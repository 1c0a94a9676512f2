/*
 * Rollback that stays rolled back: a hold keeps a component's image at a
 * tag until a person releases it; every person's action is audited; image
 * history says why the bot committed, for whom, and what became of it.
 */

const HISTORY_COLUMNS = [
  'digest',
  'action',
  'requested_by',
  'reason',
  'failed_at',
  'failure',
  'rolled_back_at',
];

/** @param {import('knex').Knex} knex */
exports.up = async function up(knex) {
  await knex.schema.createTable('gitops_image_holds', table => {
    table.comment(
      'The image automation of a component held at a tag until a person releases it',
    );
    table.string('app_key').notNullable();
    table.string('component').notNullable();
    table.string('image').notNullable();
    table.string('tag').notNullable();
    table.string('digest');
    table
      .string('held_by')
      .notNullable()
      .comment('user:default/jane, or gitops:automatic-rollback');
    table.timestamp('held_at', { useTz: true }).notNullable();
    table.text('reason');
    table.boolean('automatic').notNullable().defaultTo(false);
    table.string('failed_tag').comment('The tag an automatic rollback left');
    table
      .string('would_pick')
      .comment('The newest tag the policy picked while held, not committed');
    table.timestamp('would_pick_at', { useTz: true });
    // A released hold stays until a pass has let automation resume, so that
    // pass's commit can name who released it.
    table.string('released_by');
    table.timestamp('released_at', { useTz: true });
    table.text('release_reason');
    table.primary(['app_key', 'component']);
  });

  await knex.schema.createTable('gitops_audit', table => {
    table.comment(
      'Every action of a person on an Application, and each automatic rollback',
    );
    table.bigIncrements('id').primary();
    table.string('app_key').notNullable();
    table.string('action').notNullable();
    table.string('actor').notNullable();
    table.timestamp('at', { useTz: true }).notNullable();
    table.text('reason');
    table.string('component');
    table.text('summary').notNullable();
    table.index(['app_key', 'at']);
  });

  await knex.schema.alterTable('gitops_image_history', table => {
    table.string('digest').comment('The manifest digest the markers wrote');
    table
      .string('action')
      .comment('update, rollback, automaticRollback or release');
    table.string('requested_by').comment('The person who asked for it');
    table.text('reason');
    table.timestamp('failed_at', { useTz: true });
    table.text('failure').comment('Why the rollout was found failed');
    table
      .timestamp('rolled_back_at', { useTz: true })
      .comment('When a later commit rolled this update back');
  });
};

/** @param {import('knex').Knex} knex */
exports.down = async function down(knex) {
  await knex.schema.alterTable('gitops_image_history', table => {
    table.dropColumns(...HISTORY_COLUMNS);
  });
  await knex.schema.dropTable('gitops_audit');
  await knex.schema.dropTable('gitops_image_holds');
};
