/*
 * The workload's own story: an image update whose marker sits in another
 * Application's manifest (the seed's first-vela-workflow in git-app's
 * repository) names that Application and component, so the image history of
 * the Application that runs the image lists it too.
 */

/** @param {import('knex').Knex} knex */
exports.up = async function up(knex) {
  await knex.schema.alterTable('gitops_image_history', table => {
    table
      .string('target_app_key')
      .comment(
        'cluster/namespace/name of the Application whose manifest held the marker',
      );
    table
      .string('target_component')
      .comment('Its component whose image the marker sets');
    table.index(['target_app_key', 'detected_at']);
  });
};

/** @param {import('knex').Knex} knex */
exports.down = async function down(knex) {
  await knex.schema.alterTable('gitops_image_history', table => {
    table.dropIndex(['target_app_key', 'detected_at']);
    table.dropColumns('target_app_key', 'target_component');
  });
};
