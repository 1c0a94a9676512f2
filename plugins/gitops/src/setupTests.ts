import '@testing-library/jest-dom';
import { configure } from '@testing-library/react';

// The test command runs these beside the integration suites on two cores,
// where a dialog's open-confirm-close can take longer than Jest's 5 s default
// and a page's first render longer than the 1 s a findBy* waits by default.
jest.setTimeout(30_000);
configure({ asyncUtilTimeout: 10_000 });
