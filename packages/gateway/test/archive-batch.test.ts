/** The archive's pure part: a batch split into one NDJSON file per hive partition, named by its own offsets. */
import type { Message } from "@tessera/contract";
import { planArchiveFiles } from "@tessera/gateway";
import { describe, expect, it } from "vitest";

const message = (id: string, channel: string, receivedAt: string): Message => ({
  schema_version: 1,
  id,
  scope: { tenant: "acme", account: "w1", conversation: "c" },
  channel_type: channel,
  source_message_id: id,
  sender: { id: "u" },
  text: "multi\nline text stays on one line",
  attachments: [],
  received_at: receivedAt,
  attributes: {},
});

describe("planArchiveFiles", () => {
  it("groups by channel and UTC day, keeps stream order, and names each file by its first and last record", () => {
    const files = planArchiveFiles("tessera-gw-archive", [
      { seq: 10, message: message("m10", "slack", "2026-12-05T23:59:59Z") },
      { seq: 11, message: message("m11", "github", "2026-12-05T12:00:00Z") },
      { seq: 13, message: message("m13", "slack", "2026-12-06T01:00:00+02:00") },
      { seq: 17, message: message("m17", "slack", "2026-12-06T00:00:00Z") },
    ]);
    expect(files.map((f) => [f.path, f.first, f.last, f.count])).toEqual([
      // 01:00+02:00 is 23:00 UTC the day before.
      ["channel_type=slack/date=2026-12-05/tessera-gw-archive-10-13.ndjson", 10, 13, 2],
      ["channel_type=github/date=2026-12-05/tessera-gw-archive-11-11.ndjson", 11, 11, 1],
      ["channel_type=slack/date=2026-12-06/tessera-gw-archive-17-17.ndjson", 17, 17, 1],
    ]);
    const lines = new TextDecoder().decode(files[0]!.bytes).split("\n");
    expect(lines).toHaveLength(3);
    expect(lines[2]).toBe("");
    expect((JSON.parse(lines[0]!) as Message).id).toBe("m10");
    expect((JSON.parse(lines[1]!) as Message).text).toBe("multi\nline text stays on one line");
  });

  it("plans nothing for an empty batch", () => {
    expect(planArchiveFiles("tessera-gw-archive", [])).toEqual([]);
  });
});
