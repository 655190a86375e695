import { JetStreamApiError } from "@nats-io/jetstream";
import {
  busSettingsFromSpec,
  ComponentDefaults,
  durableConsumerName,
  jobStreamName,
  jobSubject,
} from "@tessera/contract";
import { describe, expect, it } from "vitest";
// The bus's own provisioning code: the controller's configs must equal what it creates.
import { ensureJobConsumer, jobStreamSpec } from "../../../bus/src/nats/provisioning.js";
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

  const specs = [spec(), spec({ timeouts: { ackWait: "2m" }, maxDeliver: 9, jobSubjects: ["other.subject"] })];

  it("equals the stream the bus provisions", () => {
    for (const s of specs)
      expect(renderStreamConfig("extract", s)).toEqual({ ...jobStreamSpec(busSettingsFromSpec("extract", s)) });
  });

  it("equals the consumer the bus provisions", async () => {
    for (const s of specs) {
      const added: { stream: string; config: unknown }[] = [];
      const jsm = {
        consumers: {
          info: () =>
            Promise.reject(new JetStreamApiError({ code: 404, err_code: 10014, description: "consumer not found" })),
          add: (stream: string, config: unknown) => {
            added.push({ stream, config });
            return Promise.resolve({});
          },
        },
      };
      await ensureJobConsumer(jsm as never, busSettingsFromSpec("extract", s));
      expect(added).toHaveLength(1);
      expect(added[0]?.stream).toBe(renderStreamConfig("extract", s).name);
      expect(renderConsumerConfig("extract", s)).toEqual(added[0]?.config);
    }
  });
});
