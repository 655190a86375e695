import { ComponentDefaults, durableConsumerName, jobStreamName, jobSubject } from "@tessera/contract";
import { describe, expect, it } from "vitest";
import { renderConsumerConfig, renderStreamConfig } from "../../src/render/jetstream.js";
import { spec } from "./fixtures.js";

const NS_PER_MS = 1_000_000;

describe("JetStream stream and consumer config", () => {
  it("is a WorkQueue file stream on the component's subjects", () => {
    expect(renderStreamConfig("extract", spec())).toEqual({
      name: jobStreamName("extract"),
      subjects: [jobSubject("extract")],
      retention: "workqueue",
      storage: "file",
      discard: "old",
      num_replicas: 1,
      duplicate_window: ComponentDefaults.duplicateWindowMs * NS_PER_MS,
    });
    expect(
      renderStreamConfig("extract", spec({ jobSubjects: ["legacy.extract", jobSubject("extract")] })).subjects,
    ).toEqual([jobSubject("extract"), "legacy.extract"]);
  });

  it("is an explicit-ack durable with the spec's ack wait and max deliver", () => {
    expect(renderConsumerConfig("extract", spec({ timeouts: { ackWait: "45s" }, maxDeliver: 3 }))).toEqual({
      durable_name: durableConsumerName("extract"),
      ack_policy: "explicit",
      deliver_policy: "all",
      ack_wait: 45_000 * NS_PER_MS,
      max_deliver: 3,
      max_ack_pending: 10_000,
    });
    const d = renderConsumerConfig("extract", spec());
    expect([d.ack_wait, d.max_deliver]).toEqual([
      ComponentDefaults.ackWaitMs * NS_PER_MS,
      ComponentDefaults.maxDeliver,
    ]);
    expect(d).not.toHaveProperty("filter_subject");
  });

  it("rejects a component name that is not a DNS label", () => {
    expect(() => renderStreamConfig("Bad_Name", spec())).toThrow();
  });
});
