/**
 * The fetch settings: `fetch.secrets` is checked without its messages ever repeating a value, kept as a secret
 * (listed as "(set)"), and a secret goes only to its origins; `fetch.allow` is the Component spec's allowlist.
 */
import { createInProcessBus } from "@tessera/bus";
import { describe, expect, it } from "vitest";
import { createCoordinator } from "../../src/create-coordinator.js";
import { parseFetchAllow, parseSourceSecrets, SourceSecretBook } from "../../src/sources/source-config.js";
import { silent, spec } from "../harness.js";

const TOKEN = "Bearer very-secret-token-1234";
const secrets = (value: unknown) => parseSourceSecrets(JSON.stringify(value), true);
const refusal = (run: () => unknown): string => {
  try {
    run();
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error("expected a refusal");
};

describe("fetch.secrets", () => {
  it.each([
    ["not JSON", () => parseSourceSecrets(`{"docs": ${TOKEN}`, true), /it is not JSON \(the value is not shown\)/],
    ["no origins", () => secrets({ docs: { authorization: TOKEN } }), /\/docs\/origins does not fit/],
    [
      "an unknown field",
      () => secrets({ docs: { authorization: TOKEN, origins: ["https://a.example"], x: TOKEN } }),
      /\/docs\/x does not fit/,
    ],
    [
      "a control character in the value",
      () => secrets({ docs: { authorization: `${TOKEN}\n`, origins: ["https://a.example"] } }),
      /\/docs\/authorization does not fit/,
    ],
    [
      "an origin with a path",
      () => secrets({ docs: { authorization: TOKEN, origins: ["https://a.example/docs"] } }),
      /\/docs\/origins\/0 is not an origin/,
    ],
    [
      "an origin with its default port",
      () => secrets({ docs: { authorization: TOKEN, origins: ["https://a.example:443"] } }),
      /\/docs\/origins\/0 is not an origin/,
    ],
    [
      "a name with a space",
      () => secrets({ "my docs": { authorization: TOKEN, origins: ["https://a.example"] } }),
      /does not fit/,
    ],
  ])("refuses %s, never repeating the value", (_what, run, says) => {
    const message = refusal(run);
    expect(message).toMatch(says);
    expect(message).not.toContain("very-secret");
  });

  it("sends a secret only to its origins", () => {
    const book = new SourceSecretBook(
      secrets({ docs: { authorization: TOKEN, origins: ["https://a.example", "http://10.0.0.5:8080"] } }),
    );
    expect(book.lookup("docs", new URL("https://a.example/x.pdf"))).toEqual({ authorization: TOKEN });
    expect(book.lookup("docs", new URL("http://10.0.0.5:8080/x"))).toEqual({ authorization: TOKEN });
    expect(book.lookup("docs", new URL("http://a.example/x.pdf"))).toEqual({
      problem: expect.stringMatching(/not to http:\/\/a\.example$/),
    });
    expect(book.lookup("docs", new URL("https://a.example.evil.test/"))).toHaveProperty("problem");
    expect(book.lookup("other", new URL("https://a.example/"))).toEqual({
      problem: expect.stringMatching(/no source secret named "other"/),
    });
  });

  it("is a secret setting: listed as (set), its value nowhere in the settings", async () => {
    const coordinator = await createCoordinator({
      bus: createInProcessBus(),
      components: [{ name: "docs", spec: spec({ inputMode: "source-locator", egress: "fetch-controlled" }) }],
      database: { memory: true },
      env: {
        TESSERA_FETCH_SECRETS: JSON.stringify({ docs: { authorization: TOKEN, origins: ["https://a.example"] } }),
      },
      logger: silent,
    });
    try {
      expect(coordinator.settings.get("fetch.secrets")).toMatchObject({
        value: "(set)",
        source: "env",
        class: "secret",
      });
      expect(JSON.stringify(coordinator.settings.list())).not.toContain("very-secret");
    } finally {
      await coordinator.close();
    }
  });
});

describe("fetch.allow", () => {
  it("takes the Component spec's allowlist, from the environment as JSON", () => {
    expect(parseFetchAllow('{"cidrs": ["127.0.0.1/32"], "ports": [{"port": 8080}]}', true)).toEqual({
      cidrs: ["127.0.0.1/32"],
      ports: [{ port: 8080 }],
    });
  });

  it.each([
    ["a /0", { cidrs: ["0.0.0.0/0"] }, /\/0 is not a CIDR to allow; use openInternet/],
    ["not a CIDR", { cidrs: ["localhost"] }, /cidrs\[0\]: "localhost" is not a CIDR/],
    ["an unknown field", { openInternt: true }, /expected an allowlist such as/],
  ])("refuses %s", (_what, value, says) => {
    expect(refusal(() => parseFetchAllow(value, false))).toMatch(says);
  });
});
