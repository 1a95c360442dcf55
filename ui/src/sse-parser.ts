/**
 * The text/event-stream format (the HTML standard's "server-sent events"), read from chunks
 * of text as they arrive: GET /events is read with fetch (events.ts), which can send the API
 * key as a header, where the browser's own EventSource cannot.
 */

export interface StreamEvent {
  /** `event:`; "message" when the server named none. */
  event: string;
  /** The `data:` lines, joined with newlines. */
  data: string;
  /** `id:`, when this event carried one. */
  id?: string;
}

export class EventStreamParser {
  private rest = '';
  private data: string[] = [];
  private event = '';
  private id: string | undefined;

  /** The events this chunk completes (a chunk may end anywhere, even inside a line). */
  push(chunk: string): StreamEvent[] {
    const events: StreamEvent[] = [];
    const lines = (this.rest + chunk).split(/\r\n|\r|\n/);
    this.rest = lines.pop() ?? '';
    for (const line of lines) {
      if (line === '') {
        if (this.data.length > 0) {
          const event: StreamEvent = { event: this.event || 'message', data: this.data.join('\n') };
          if (this.id !== undefined) event.id = this.id;
          events.push(event);
        }
        this.data = [];
        this.event = '';
        this.id = undefined;
        continue;
      }
      if (line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? '' : line.slice(colon + 1);
      if (value.startsWith(' ')) value = value.slice(1);
      if (field === 'data') this.data.push(value);
      else if (field === 'event') this.event = value;
      else if (field === 'id' && !value.includes('\0')) this.id = value;
    }
    return events;
  }
}
