/*
 * When a tag reached its registry, as the registry's push notification said:
 * the start of a rollout's lead time (tag push → healthy) when it is known.
 */

/** @param {import('knex').Knex} knex */
exports.up = async function up(knex) {
  await knex.schema.createTable('gitops_tag_pushes', table => {
    table.comment('Push times of tags, from registry notifications');
    table.string('image').notNullable().comment('registry/name');
    table.string('tag').notNullable();
    table.timestamp('pushed_at', { useTz: true }).notNullable();
    table.primary(['image', 'tag']);
    table.index(['pushed_at']);
  });
};

/** @param {import('knex').Knex} knex */
exports.down = async function down(knex) {
  await knex.schema.dropTable('gitops_tag_pushes');
};
