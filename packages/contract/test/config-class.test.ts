import { describe, expect, it } from "vitest";
import {
  REDACTED,
  componentConfigClasses,
  enforceGuardRails,
  guardRailVerdict,
  guardRailFindings,
  redactedValue,
  scrubSecrets,
  validateComponentSpec,
  type ComponentSpec,
} from "../src/index.js";

const spec = (overrides: Partial<ComponentSpec>): ComponentSpec => ({
  image: "example/x:1",
  inputMode: "content-ref",
  egress: "none",
  ...overrides,
});

describe("config classes", () => {
  it("redacts a secret that is set, keeps an unset one null, and shows every other class as it is", () => {
    expect(redactedValue("secret", "hunter2-hunter2")).toBe(REDACTED);
    expect(redactedValue("secret", null)).toBeNull();
    expect(redactedValue("internal", { a: 1 })).toEqual({ a: 1 });
    expect(redactedValue("public", "shown")).toBe("shown");
  });

  it("scrubs a secret from text: whole, JSON-escaped, or clipped to a long enough prefix", () => {
    const secret = 'abc"def-0123456789-abcdefghijklmnop';
    expect(scrubSecrets(`got ${secret} here`, [secret])).toBe(`got ${REDACTED} here`);
    expect(scrubSecrets(`got ${JSON.stringify(secret)}`, [secret])).toBe(`got "${REDACTED}"`);
    expect(scrubSecrets(`got "${secret.slice(0, 20)}…"`, [secret])).toBe(`got "${REDACTED}…"`);
    // Too short a prefix is left alone (it would match ordinary words), and so is a secret of under 4 characters.
    expect(scrubSecrets('abc"def-01 and 1', [secret, "1"])).toBe('abc"def-01 and 1');
  });

  it("gives every config key and secretRef a class: declared, internal by default, secretRefs secret", () => {
    const s = spec({
      config: { MODE: "fast", LEVEL: "debug" },
      configClasses: { MODE: "public" },
      secretRefs: [{ name: "openai", key: "api-key" }],
    });
    expect(validateComponentSpec(s).ok).toBe(true);
    expect(componentConfigClasses(s)).toEqual([
      { key: "MODE", class: "public" },
      { key: "LEVEL", class: "internal" },
      { key: "API_KEY", class: "secret" },
    ]);
  });

  it("refuses a secret class on a value written in config without repeating the value, and classes for nothing", () => {
    const leaky = validateComponentSpec(
      spec({ config: { TOKEN: "s3cr3t-value-here" }, configClasses: { TOKEN: "secret", NOPE: "public" } }),
    );
    expect(leaky.ok).toBe(false);
    if (leaky.ok) return;
    expect(leaky.error.issues.map((i) => i.path)).toEqual(["configClasses.TOKEN", "configClasses.NOPE"]);
    expect(leaky.error.message).not.toContain("s3cr3t-value-here");
    const relabelled = validateComponentSpec(
      spec({ secretRefs: [{ name: "db", env: "DB_PASSWORD" }], configClasses: { DB_PASSWORD: "public" } }),
    );
    expect(relabelled.ok ? [] : relabelled.error.issues.map((i) => i.path)).toEqual(["configClasses.DB_PASSWORD"]);
    expect(validateComponentSpec(spec({ configClasses: { X: "hidden" as never } })).ok).toBe(false);
  });

  it("finds local-only values (settings with a value, component config) and refuses them in staging and production", () => {
    const facts = {
      settings: [{ name: "payments.stub", class: "local-only", source: "file" }],
      components: [{ name: "pay", spec: spec({ config: { FAKE: "1" }, configClasses: { FAKE: "local-only" } }) }],
    };
    const findings = guardRailFindings(facts);
    expect(findings.map((f) => f.rule)).toEqual(["local_only_config", "local_only_config"]);
    expect(guardRailVerdict("staging", findings).refuse).toHaveLength(2);
    expect(guardRailVerdict("production", findings).refuse).toHaveLength(2);
    expect(guardRailVerdict("local", findings)).toEqual({ refuse: [], warn: [] });
    // Other rules still only warn in staging.
    const warned: string[] = [];
    enforceGuardRails("staging", { store: { kind: "memory" } }, (f) => warned.push(f.rule));
    expect(warned).toEqual(["durable_store"]);
    expect(() => enforceGuardRails("staging", facts, () => undefined)).toThrow(
      /\[local_only_config\] setting payments\.stub/,
    );
  });
});
