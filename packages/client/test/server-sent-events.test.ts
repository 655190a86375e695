import { describe, expect, it } from "vitest";
import { readServerSentEvents, type ServerSentEvent } from "../src/read-server-sent-events.js";

function streamOf(chunks: string[]): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  return new ReadableStream({
    start(controller) {
      for (const c of chunks) controller.enqueue(encoder.encode(c));
      controller.close();
    },
  });
}

async function collect(chunks: string[]): Promise<ServerSentEvent[]> {
  const out: ServerSentEvent[] = [];
  for await (const e of readServerSentEvents(streamOf(chunks))) out.push(e);
  return out;
}

describe("readServerSentEvents", () => {
  it("parses events, comments, multi-line data and every line ending, across arbitrary chunk boundaries", async () => {
    const text =
      '\uFEFF: subscribed\r\n\r\nevent: job\r\ndata: {"a":1}\r\n\r\ndata:two\rdata: lines\r\rid: 7\nevent: job\ndata:  spaced\n\nevent: empty\n\ndata: unterminated';
    const expected = [
      { event: "job", data: '{"a":1}' },
      { event: "message", data: "two\nlines" },
      { event: "job", data: " spaced", id: "7" },
    ];
    expect(await collect([text])).toEqual(expected);
    // Every split point, including between the CR and LF of a CRLF.
    for (let i = 1; i < text.length; i++) expect(await collect([text.slice(0, i), text.slice(i)])).toEqual(expected);
  });

  it("cancels the body when the reader stops early", async () => {
    let cancelled = false;
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode("data: 1\n\ndata: 2\n\n"));
      },
      cancel() {
        cancelled = true;
      },
    });
    for await (const event of readServerSentEvents(body)) {
      expect(event.data).toBe("1");
      break;
    }
    expect(cancelled).toBe(true);
  });
});
