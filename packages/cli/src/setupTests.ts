// The test command runs these beside the integration suites on two cores,
// where starting and stopping a test backend or a child process can take
// longer than Jest's 5 s default.
jest.setTimeout(30_000);
