import { readFileSync } from "node:fs";
import { componentNameProblem, validateComponentSpec } from "@tessera/contract";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import chunkEmbed from "../src/chunk-embed.js";
import extract from "../src/extract.js";

describe.each([
  ["extract.yaml", extract],
  ["chunk-embed.yaml", chunkEmbed],
])("components/%s", (file, definition) => {
  const doc = parse(readFileSync(new URL(`../components/${file}`, import.meta.url), "utf8")) as {
    apiVersion: unknown;
    kind: unknown;
    metadata: { name: unknown };
    spec: { concurrency?: number; egress?: string; inputMode?: string };
  };

  it("is a valid Component manifest", () => {
    expect(doc).toMatchObject({ apiVersion: "tessera.dev/v1alpha1", kind: "Component" });
    expect(componentNameProblem(doc.metadata.name)).toBeUndefined();
    const checked = validateComponentSpec(doc.spec);
    if (!checked.ok) throw checked.error;
  });

  it("matches its component definition and has no direct egress", () => {
    expect(doc.metadata.name).toBe(definition.name);
    expect(doc.spec.concurrency).toBe(definition.concurrency);
    // fetch-controlled: the coordinator fetches a source_locator job's input; the component reaches nothing.
    expect(doc.spec.egress).toBe(doc.spec.inputMode === "source-locator" ? "fetch-controlled" : "none");
  });
});
