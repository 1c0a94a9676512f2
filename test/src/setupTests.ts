// Hooks and tests that give no timeout of their own start and stop real
// servers (a control plane, a registry, PostgreSQL) on a 2-core machine
// shared with the rest of the suites: Jest's 5 s default cuts a teardown off
// under load and leaves its servers running.
jest.setTimeout(60_000);
