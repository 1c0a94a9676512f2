import { deliveryOf } from './webhookSync';

describe('deliveryOf', () => {
  it("reads each host's delivery id from the headers the events backend passes on", () => {
    expect(
      deliveryOf('github.push', {
        'x-github-delivery': 'a1',
        'x-gitlab-event-uuid': 'x',
      }),
    ).toEqual({ source: 'github', id: 'a1' });
    expect(
      deliveryOf('gitlab.push', { 'x-gitlab-event-uuid': ['b2', 'b3'] }),
    ).toEqual({ source: 'gitlab', id: 'b2' });
    // No id: the delivery can't be recognised again, so it is handled.
    expect(deliveryOf('gitlab.push', undefined)).toEqual({
      source: 'gitlab',
      id: undefined,
    });
  });
});
