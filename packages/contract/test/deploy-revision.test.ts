import { describe, expect, it } from "vitest";
import {
  DEPLOY_PROVENANCE_ANNOTATIONS,
  configHash,
  configMapName,
  decodeDeployRevisionData,
  deployProvenanceAnnotations,
  deployProvenanceFromAnnotations,
  deployRevisionName,
  deployRevisionSelector,
  effectiveConfig,
  recordedDeployRevisions,
  revisionContentHash,
  specHash,
  stableJson,
  validateComponentSpec,
  type ComponentSpec,
} from "../src/index.js";

const spec: ComponentSpec = { image: "x:1", inputMode: "content-ref", egress: "none", config: { A: "1", B: "2" } };

describe("deploy revision contract", () => {
  it("hashes a spec the same whatever its key order, defaults or history limit", () => {
    const reordered = { config: { B: "2", A: "1" }, image: "x:1" } as unknown as ComponentSpec;
    expect(specHash(reordered)).toBe(specHash(spec));
    expect(specHash({ ...spec, revisionHistoryLimit: 3 })).toBe(specHash(spec));
    expect(specHash({ ...spec, image: "x:2" })).not.toBe(specHash(spec));
  });

  it("stableJson sorts keys at every depth and drops undefined members", () => {
    expect(stableJson({ b: { d: 1, c: undefined, a: [2, { z: 1, y: 2 }] }, a: null })).toBe(
      '{"a":null,"b":{"a":[2,{"y":2,"z":1}],"d":1}}',
    );
  });

  it("names the hashed ConfigMap by the first ten hex digits of the effective config's hash", () => {
    const merged = effectiveConfig(spec.config, { B: "over", C: "3" });
    expect(merged).toEqual({ A: "1", B: "over", C: "3" });
    const hash = configHash(merged);
    expect(hash).toMatch(/^[0-9a-f]{64}$/);
    expect(configMapName("extract", hash)).toBe(`extract-config-${hash.slice(0, 10)}`);
  });

  it("content changes with the overlay's data, not with provenance", () => {
    expect(revisionContentHash(spec, undefined)).toBe(revisionContentHash({ ...spec }, undefined));
    expect(revisionContentHash(spec, { B: "x" })).not.toBe(revisionContentHash(spec, { B: "y" }));
    expect(revisionContentHash(spec, {})).not.toBe(revisionContentHash(spec, undefined));
  });

  it("round-trips provenance through annotations and ignores malformed values", () => {
    const p = { deployedBy: "ana", gitCommit: "abc", gitDirty: "false" as const, rollbackOf: 3 };
    const annotations = deployProvenanceAnnotations(p);
    expect(annotations[DEPLOY_PROVENANCE_ANNOTATIONS.rollbackOf]).toBe("3");
    expect(annotations["tessera.dev/deployed-by"]).toBe("ana");
    expect(deployProvenanceFromAnnotations(annotations)).toEqual(p);
    expect(
      deployProvenanceFromAnnotations({ "tessera.dev/rollback-of": "x", "tessera.dev/git-dirty": "maybe" }),
    ).toEqual({});
  });

  it("names revisions and selects them by component", () => {
    expect(deployRevisionName("extract", 12)).toBe("extract-r12");
    expect(deployRevisionSelector("extract")).toBe("tessera.dev/component=extract,tessera.dev/deploy-revision");
  });

  it("decodes revision data and refuses other shapes", () => {
    const h = specHash(spec);
    const data = {
      schemaVersion: 1,
      spec,
      specHash: h,
      contentHash: h,
      provenance: {},
      effectiveConfig: { A: "1" },
      config: { hash: h, configMapName: configMapName("x", h) },
      images: ["x:1"],
    };
    expect(decodeDeployRevisionData(data).ok).toBe(true);
    expect(decodeDeployRevisionData({ ...data, images: [] }).ok).toBe(false);
  });

  it("reads a component's revisions from ControllerRevisions, oldest first, leaving out what is not one", () => {
    const h = specHash(spec);
    const data = (image: string) => ({
      schemaVersion: 1,
      spec: { ...spec, image },
      specHash: h,
      contentHash: h,
      provenance: {},
      effectiveConfig: {},
      config: { hash: h, configMapName: configMapName("x", h) },
      images: [image],
    });
    const labels = (n: string) => ({ "tessera.dev/component": "x", "tessera.dev/deploy-revision": n });
    const read = recordedDeployRevisions([
      {
        metadata: { name: "x-r2", uid: "u2", creationTimestamp: "2026-12-07T10:00:00Z" },
        revision: 2,
        data: data("x:2"),
      },
      // No revision field: its label numbers it.
      {
        metadata: { name: "x-r1", creationTimestamp: new Date("2026-12-06T10:00:00Z"), labels: labels("1") },
        data: data("x:1"),
      },
      { metadata: { name: "x-r3", uid: "u3" }, revision: 3, data: { ...data("x:3"), images: [] } },
      { metadata: { name: "x-r4", uid: "u4", labels: labels("four") }, data: data("x:4") },
    ]);
    expect(read.map((r) => [r.name, r.uid, r.revision, r.createdAt, r.data.images])).toEqual([
      ["x-r1", undefined, 1, "2026-12-06T10:00:00.000Z", ["x:1"]],
      ["x-r2", "u2", 2, "2026-12-07T10:00:00Z", ["x:2"]],
    ]);
  });

  it("accepts configOverlay and revisionHistoryLimit in the spec", () => {
    expect(validateComponentSpec({ image: "x:1", configOverlay: "extract-overlay", revisionHistoryLimit: 2 }).ok).toBe(
      true,
    );
    expect(validateComponentSpec({ image: "x:1", revisionHistoryLimit: 0 }).ok).toBe(false);
    expect(validateComponentSpec({ image: "x:1", configOverlay: "Bad_Name" }).ok).toBe(false);
  });
});
