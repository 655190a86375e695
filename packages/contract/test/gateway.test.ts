import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  archiveFileName,
  archivePartition,
  attachmentBucketName,
  attachmentStorageKey,
  enrichedSubject,
  decodeMessage,
  decodeSendCommand,
  deliverySubject,
  encodeDeliveryRecord,
  encodeMessage,
  encodeSendCommand,
  gatewayDurableName,
  gatewayStreamName,
  gatewaySubjectFilter,
  inboundDedupKey,
  inboundSubject,
  outboundSubject,
  validateMessage,
  validateSendCommand,
  type Message,
  type SendCommand,
} from "@tessera/contract";

const message: Message = {
  schema_version: 1,
  id: "msg_0123456789abcdef0123456789abcdef",
  scope: { tenant: "acme", account: "T024BE7LD", conversation: "C123" },
  channel_type: "slack",
  source_message_id: "Ev0PV52K21",
  sender: { id: "U2147483697", name: "spengler" },
  text: "hello",
  attachments: [{ name: "a.pdf", sha256: "a".repeat(64), storage_key: "sha256/aaaa", error_code: "fetch_http_404" }],
  received_at: "2026-12-07T03:00:00.000Z",
  attributes: { "slack.ts": "1355517523.000005" },
  relation: { type: "reply", target_source_id: "1355517500.000001" },
};

const command: SendCommand = {
  schema_version: 1,
  id: "cmd-1",
  scope: { tenant: "acme", account: "T024BE7LD" },
  channel_type: "slack",
  destination: { conversation: "C123", thread: "1355517500.000001" },
  text: "on it",
};

describe("gateway envelopes", () => {
  it("round-trips a Message and a SendCommand through bytes", () => {
    const m = decodeMessage(encodeMessage(message));
    expect(m.ok && m.value).toEqual(message);
    const c = decodeSendCommand(encodeSendCommand(command));
    expect(c.ok && c.value).toEqual(command);
  });

  it("names the field that is wrong", () => {
    const bad = validateMessage({ ...message, scope: { ...message.scope, tenant: "a b" } });
    expect(bad.ok).toBe(false);
    expect(!bad.ok && bad.error.message).toMatch(/scope\.tenant: expected a string matching/);
    const extra = validateSendCommand({ ...command, destinaton: {} });
    expect(!extra.ok && extra.error.message).toMatch(/destinaton: expected no such field/);
    const channel = validateSendCommand({ ...command, channel_type: "Slack" });
    expect(!channel.ok && channel.error.message).toMatch(/channel_type/);
  });

  it("needs a reaction's name with a reaction and refuses it on other relations", () => {
    const noName = validateMessage({ ...message, relation: { type: "reaction", target_source_id: "x" } });
    expect(!noName.ok && noName.error.message).toMatch(/relation\.reaction: expected the reaction's name/);
    const stray = validateMessage({ ...message, relation: { type: "edit", target_source_id: "x", reaction: "+1" } });
    expect(stray.ok).toBe(false);
    const ok = validateMessage({ ...message, relation: { type: "reaction", target_source_id: "x", reaction: "+1" } });
    expect(ok.ok).toBe(true);
  });

  it("reports an unknown schema_version as such, and never throws on garbage bytes", () => {
    const v2 = validateMessage({ ...message, schema_version: 2 });
    expect(!v2.ok && v2.error.message).toMatch(/schema_version: expected a supported schema version \(1\)/);
    expect(decodeMessage(new Uint8Array([0xff, 0x00])).ok).toBe(false);
  });

  it("refuses to encode an invalid record", () => {
    expect(() =>
      encodeDeliveryRecord({
        schema_version: 1,
        command_id: "cmd-1",
        scope: command.scope,
        channel_type: "slack",
        status: "delivered",
        attempt: 0,
        at: "2026-12-07T03:00:00Z",
      }),
    ).toThrow(/attempt/);
  });
});

describe("gateway names", () => {
  const scope = { channelType: "slack", tenant: "acme", account: "T024BE7LD" };

  it("spells subjects, streams and durables from one function each", () => {
    // Upper case is escaped, so the subject stays distinct from a lower-case account's on every file system.
    expect(inboundSubject(scope)).toBe("tessera.gw.in.slack.acme._54024_42_457_4c_44");
    expect(outboundSubject({ ...scope, account: "w1" })).toBe("tessera.gw.out.slack.acme.w1");
    expect(deliverySubject("slack", "cmd-1")).toBe("tessera.gw.delivery.slack.cmd-1");
    expect(gatewaySubjectFilter("in")).toBe("tessera.gw.in.>");
    expect(gatewaySubjectFilter("out", "slack")).toBe("tessera.gw.out.slack.>");
    expect(gatewayStreamName("inbound")).toBe("TESSERA_GW_INBOUND");
    expect(gatewayStreamName("outbound")).toBe("TESSERA_GW_OUTBOUND");
    expect(gatewayDurableName("sender")).toBe("tessera-gw-sender");
    expect(gatewayDurableName("sender", "slack")).toBe("tessera-gw-sender-slack");
    expect(() => inboundSubject({ ...scope, tenant: "" })).toThrow(/tenant: expected a non-empty string/);
  });

  it("names the attachment and archive pieces (issue 20 items 5-6)", () => {
    expect(enrichedSubject({ ...scope, account: "w1" })).toBe("tessera.gw.enriched.slack.acme.w1");
    expect(gatewaySubjectFilter("enriched", "slack")).toBe("tessera.gw.enriched.slack.>");
    expect(gatewayStreamName("enriched")).toBe("TESSERA_GW_ENRICHED");
    expect(gatewayDurableName("attachments")).toBe("tessera-gw-attachments");
    expect(gatewayDurableName("archive", "github")).toBe("tessera-gw-archive-github");
    expect(gatewayDurableName("enriched-archive")).toBe("tessera-gw-enriched-archive");
    expect(attachmentBucketName()).toBe("TESSERA_GW_ATTACHMENTS");
    const sha = "ab".repeat(32);
    expect(attachmentStorageKey(sha)).toBe(`sha256/${sha}`);
    expect(() => attachmentStorageKey("AB".repeat(32))).toThrow(/64 lower-case hex/);
    expect(() => attachmentStorageKey("../x")).toThrow(/64 lower-case hex/);
    // The date is the UTC day of received_at, whatever offset it was written with.
    expect(archivePartition("slack", "2026-12-06T23:30:00-02:00")).toBe("channel_type=slack/date=2026-12-07");
    expect(archivePartition("github", "2026-01-02T00:00:00Z")).toBe("channel_type=github/date=2026-01-02");
    expect(() => archivePartition("../etc", "2026-01-02T00:00:00Z")).toThrow(/not a slug/);
    expect(() => archivePartition("slack", "yesterday")).toThrow(/received_at/);
    expect(archiveFileName("tessera-gw-archive", 1, 250)).toBe("tessera-gw-archive-1-250.ndjson");
    expect(() => archiveFileName("tessera-gw-archive", 5, 4)).toThrow(RangeError);
    expect(() => archiveFileName("a/b", 1, 1)).toThrow(/durable name/);
  });

  it("keeps wildcard characters out of subjects", () => {
    const subject = inboundSubject({ channelType: "x", tenant: "a.*", account: ">" });
    expect(subject.split(".")).toHaveLength(6);
    expect(subject).not.toMatch(/[*>]/);
  });

  it("never gives two different scopes or dedup keys the same name (property)", () => {
    const part = fc.string({ unit: fc.constantFrom(..."aA.-_*>:é 1".split("")), minLength: 1, maxLength: 6 });
    fc.assert(
      fc.property(part, part, part, part, part, part, (t1, a1, s1, t2, a2, s2) => {
        const x = { channelType: "slack", tenant: t1, account: a1 };
        const y = { channelType: "slack", tenant: t2, account: a2 };
        const same = t1 === t2 && a1 === a2;
        expect(inboundSubject(x) === inboundSubject(y)).toBe(same);
        expect(inboundDedupKey(x, s1) === inboundDedupKey(y, s2)).toBe(same && s1 === s2);
      }),
      { numRuns: 3000 },
    );
  });
});
