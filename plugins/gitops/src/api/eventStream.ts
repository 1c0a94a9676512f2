/**
 * Reads a `text/event-stream` body (server-sent events) to its end, calling
 * `onEvent` with each event's type (`message` when it names none) and data.
 * Comments (heartbeats) and `retry`/`id` fields are skipped. EventSource
 * would do this, but it cannot send the Backstage token: the body comes
 * from the app's fetchApi instead.
 */
export async function readEventStream(
  body: ReadableStream<Uint8Array>,
  onEvent: (type: string, data: string) => void,
): Promise<void> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffered = '';
  let type = '';
  let data: string[] = [];
  const line = (text: string) => {
    if (text === '') {
      if (data.length || type) onEvent(type || 'message', data.join('\n'));
      type = '';
      data = [];
      return;
    }
    if (text.startsWith(':')) return;
    const colon = text.indexOf(':');
    const field = colon < 0 ? text : text.slice(0, colon);
    const value = colon < 0 ? '' : text.slice(colon + 1).replace(/^ /, '');
    if (field === 'event') type = value;
    if (field === 'data') data.push(value);
  };
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      let text = buffered + decoder.decode(value, { stream: true });
      // A \r at the end may be the first half of a \r\n still arriving.
      const held = text.endsWith('\r') ? '\r' : '';
      if (held) text = text.slice(0, -1);
      const lines = text.split(/\r\n|\r|\n/);
      // The last piece is a line still arriving.
      buffered = (lines.pop() ?? '') + held;
      lines.forEach(line);
    }
  } finally {
    reader.releaseLock();
  }
}
