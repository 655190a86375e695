import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  componentOfJobStream,
  decodeNameToken,
  dlqSubject,
  durableConsumerName,
  encodeNameToken,
  heartbeatSubject,
  jobStreamName,
  jobSubject,
  resultSubject,
} from "@tessera/contract";

const NATS_NAME = /^[A-Za-z0-9_-]+$/;

describe("naming", () => {
  it("keeps DNS-1123 names readable", () => {
    expect(jobSubject("extract")).toBe("tessera.jobs.extract");
    expect(jobStreamName("chunk-embed")).toBe("TESSERA_JOBS_chunk-embed");
    expect(durableConsumerName("chunk-embed")).toBe("tessera-worker-chunk-embed");
    expect(resultSubject("extract", "j1")).toBe("tessera.results.extract.j1");
    expect(dlqSubject("extract")).toBe("tessera.dlq.extract");
    expect(heartbeatSubject("extract")).toBe("tessera.heartbeat.extract");
  });

  it("escapes what the upper-case-and-replace mapping used to merge", () => {
    // TMI mapped both of these to the same stream name.
    expect(jobStreamName("my-worker")).not.toBe(jobStreamName("my_worker"));
    expect(jobStreamName("Worker")).not.toBe(jobStreamName("worker"));
    expect(encodeNameToken("a.b")).toBe("a_2eb");
    expect(encodeNameToken("a_b")).toBe("a_5fb");
  });

  it("refuses an empty name", () => {
    expect(() => jobSubject("")).toThrow(/non-empty/);
  });

  it("is injective: decode(encode(x)) === x for any name (property)", () => {
    fc.assert(
      fc.property(fc.string({ unit: "grapheme", minLength: 1, maxLength: 40 }), (name) => {
        expect(decodeNameToken(encodeNameToken(name))).toBe(name);
      }),
      { numRuns: 2000 },
    );
  });

  it("never maps two different names to the same stream or consumer name (property)", () => {
    const alphabet = fc.constantFrom(..."aA-_.0 z/Zé*>".split(""));
    fc.assert(
      fc.property(
        fc.string({ unit: alphabet, minLength: 1, maxLength: 6 }),
        fc.string({ unit: alphabet, minLength: 1, maxLength: 6 }),
        (a, b) => {
          fc.pre(a !== b);
          expect(jobStreamName(a)).not.toBe(jobStreamName(b));
          expect(durableConsumerName(a)).not.toBe(durableConsumerName(b));
          expect(jobSubject(a)).not.toBe(jobSubject(b));
        },
      ),
      { numRuns: 5000 },
    );
  });

  it("always yields names NATS accepts and subject tokens without separators or wildcards (property)", () => {
    fc.assert(
      fc.property(fc.string({ unit: "grapheme", minLength: 1, maxLength: 40 }), (name) => {
        expect(jobStreamName(name)).toMatch(NATS_NAME);
        expect(durableConsumerName(name)).toMatch(NATS_NAME);
        expect(jobSubject(name).split(".")).toHaveLength(3);
        expect(jobSubject(name)).not.toMatch(/[*> \t\r\n]/);
      }),
      { numRuns: 1000 },
    );
  });
});

describe("componentOfJobStream", () => {
  it("inverts jobStreamName for any component name and refuses other streams", () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 40 }), (name) => {
        expect(componentOfJobStream(jobStreamName(name))).toBe(name);
      }),
    );
    expect(componentOfJobStream("TESSERA_RESULTS")).toBeUndefined();
    expect(componentOfJobStream("TESSERA_JOBS_%zz")).toBeUndefined();
  });
});
