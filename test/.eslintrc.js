module.exports = require('@backstage/cli/config/eslint-factory')(__dirname, {
  rules: {
    // Integration tests assemble backends and apps out of plugins, as the
    // app and backend packages do; the plugin-boundary rule is for libraries.
    '@backstage/no-mixed-plugin-imports': 'off',
  },
});
