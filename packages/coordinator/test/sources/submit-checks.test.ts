/**
 * A source locator that cannot be fetched as written is refused at submit, naming the field, before anything is
 * recorded: the component's egress, the URL, the limits, the secret. Nothing here reaches the bus or the network.
 */
import type { SourceLocator, ValidationIssue } from "@tessera/contract";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CoordinatorError } from "../../src/errors.js";
import { startAdminServer, type AdminServer } from "../../src/http/admin-server.js";
import { embedded, spec, type Embedded } from "../harness.js";

let env: Embedded;
let admin: AdminServer;
beforeAll(async () => {
  env = await embedded(
    { memory: true },
    [
      { name: "docs", spec: spec({ inputMode: "source-locator", egress: "fetch-controlled", maxBytes: 4096 }) },
      { name: "sealed", spec: spec({ egress: "none" }) },
      {
        name: "direct",
        spec: spec({ inputMode: "source-locator", egress: "allowlist", allowlist: { openInternet: true } }),
      },
    ],
    {
      settingsFile: {
        // Port 1 only: a URL accepted here is refused by its port before any name is looked up.
        "fetch.allow": { openInternet: true, ports: [{ port: 1 }] },
        "fetch.secrets": { "docs-token": { authorization: "Bearer x", origins: ["https://docs.example.com"] } },
      },
    },
  );
  admin = await startAdminServer(env.coordinator);
});
afterAll(async () => {
  await admin.close();
  await env.close();
});

async function refusal(component: string, locator: unknown): Promise<ValidationIssue> {
  const err = await env.coordinator.submit(component, { source_locator: locator as SourceLocator }).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(CoordinatorError);
  expect((err as CoordinatorError).code).toBe("invalid_request");
  const issues = (err as CoordinatorError).issues;
  expect(issues).toHaveLength(1);
  return issues[0] as ValidationIssue;
}

describe("a source locator is refused at submit, naming the field", () => {
  const url = "https://docs.example.com/a.pdf";
  const cases: Array<[what: string, component: string, locator: unknown, path: string, says: RegExp]> = [
    ["a component with egress none", "sealed", { source_url: url }, "input.source_locator", /egress is none/],
    ["a component with allowlist egress", "direct", { source_url: url }, "input.source_locator", /egress is allowlist/],
    ["not a URL", "docs", { source_url: "docs/a.pdf" }, "input.source_locator.source_url", /not a valid URL/],
    [
      "an ftp URL",
      "docs",
      { source_url: "ftp://docs.example.com/a.pdf" },
      "input.source_locator.source_url",
      /scheme ftp/,
    ],
    ["a file URL", "docs", { source_url: "file:///etc/passwd" }, "input.source_locator.source_url", /scheme file/],
    [
      "credentials in the URL",
      "docs",
      { source_url: "https://user:pw@docs.example.com/a.pdf" },
      "input.source_locator.source_url",
      /credentials/,
    ],
    ["an empty URL", "docs", { source_url: "" }, "input.source_locator.source_url", /length greater or equal to 1/],
    ["an unknown field", "docs", { source_url: url, method: "POST" }, "input.source_locator.method", /no such field/],
    ["a NUL character", "docs", { source_url: "https://docs.example.com/\u0000" }, "input.source_locator", /NUL/],
    [
      "fetch_limits.max_bytes over the job's max_bytes",
      "docs",
      { source_url: url, fetch_limits: { max_bytes: 8192 } },
      "input.source_locator.fetch_limits.max_bytes",
      /at most 4096 bytes/,
    ],
    [
      "fetch_limits.timeout_ms over ten minutes",
      "docs",
      { source_url: url, fetch_limits: { timeout_ms: 3_600_000 } },
      "input.source_locator.fetch_limits.timeout_ms",
      /at most 600000 ms/,
    ],
    [
      "a secret this coordinator does not hold",
      "docs",
      { source_url: url, source_secret_ref: "nope" },
      "input.source_locator.source_secret_ref",
      /no source secret named "nope"/,
    ],
    [
      "a secret for another origin",
      "docs",
      { source_url: "https://attacker.example/collect", source_secret_ref: "docs-token" },
      "input.source_locator.source_secret_ref",
      /may only be sent to https:\/\/docs\.example\.com, not to https:\/\/attacker\.example/,
    ],
  ];

  it.each(cases)("%s", async (_what, component, locator, path, says) => {
    const issue = await refusal(component, locator);
    expect(issue.path).toBe(path);
    expect(`${issue.expected} ${issue.received}`).toMatch(says);
  });

  it("records nothing for a refused submit", async () => {
    expect((await env.coordinator.listJobs()).items).toEqual([]);
  });

  it("refuses one over HTTP with a 400 whose issue names the field", async () => {
    const res = await admin.app.inject({
      method: "POST",
      url: "/api/v1/jobs",
      payload: { component: "docs", input: { source_locator: { source_url: "gopher://docs.example.com/" } } },
    });
    expect(res.statusCode).toBe(400);
    const { error } = res.json() as { error: { code: string; message: string; issues: ValidationIssue[] } };
    expect(error.code).toBe("invalid_request");
    expect(error.issues).toEqual([
      expect.objectContaining({ path: "input.source_locator.source_url", received: expect.stringMatching(/gopher/) }),
    ]);
  });

  it("accepts one over HTTP: 201, the job pending while its source is fetched", async () => {
    const res = await admin.app.inject({
      method: "POST",
      url: "/api/v1/jobs",
      payload: { component: "docs", input: { source_locator: { source_url: url } } },
    });
    expect(res.statusCode).toBe(201);
    expect(res.json()).toMatchObject({ created: true, state: "pending" });
  });
});
