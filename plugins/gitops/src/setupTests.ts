import '@testing-library/jest-dom';

// The test command runs these beside the integration suites on two cores,
// where a dialog's open-confirm-close can take longer than Jest's 5 s default.
jest.setTimeout(30_000);
