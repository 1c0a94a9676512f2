// Integration tests start real servers and wait for real rollouts.
jest.setTimeout(180_000);
