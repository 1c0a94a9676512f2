import { readEventStream } from './eventStream';

/** A body that arrives in these chunks, as a slow network delivers it. */
function body(...chunks: string[]): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  return new ReadableStream({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(encoder.encode(chunk));
      controller.close();
    },
  });
}

describe('readEventStream', () => {
  it('reads events split anywhere across chunks, skipping comments', async () => {
    const events: string[] = [];
    await readEventStream(
      body(
        'retry: 5000\nevent: ready\ndata: {}\n\n: heart',
        'beat\n\nevent: chan',
        'ged\ndata: {"at":"x"}\r',
        '\n\r\ndata: a\ndata: b\n\n',
      ),
      (type, data) => events.push(`${type} ${data}`),
    );
    expect(events).toEqual(['ready {}', 'changed {"at":"x"}', 'message a\nb']);
  });
});
