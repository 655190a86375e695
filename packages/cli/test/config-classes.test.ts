import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { SpanKind } from "@opentelemetry/api";
import { InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { NodeTracerProvider } from "@opentelemetry/sdk-trace-node";
import { createInProcessBus } from "@tessera/bus";
import { REDACTED, type ComponentSpec } from "@tessera/contract";
import { createCoordinator, startAdminServer, type AdminServer, type Coordinator } from "@tessera/coordinator";
import { dashboardAssetsDir, isDashboardBuilt } from "@tessera/dashboard";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runTessera } from "./helpers/run-tessera.js";
import { tempFiles } from "./helpers/temp-files.js";

/*
 * Config classes, proved by planting markers (docs/contract.md#config-classes): a secret marker is the admin
 * token, part of fetch.secrets, pasted into wrong fields of requests, a database URL's password and a secret
 * component config value; every output is collected and searched for it. A public marker (a shared setting
 * of class public) must show where settings are shown, so the search is not vacuous. An OpenTelemetry SDK is
 * registered in this process, as `tessera dev` registers one when OTEL_* asks, so the traces are searched too.
 */

const SECRET = `marker-secret-${randomBytes(24).toString("hex")}`;
const FETCH_SECRET = `marker-fetch-${randomBytes(16).toString("hex")}`;
const PUBLIC = `marker-public-${randomBytes(8).toString("hex")}`;

// Every span this process makes, kept in memory: what an OTLP exporter would send a collector.
const spans = new InMemorySpanExporter();
new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] }).register();

const logLines: string[] = [];
const logger = pino({ level: "trace" }, { write: (line: string) => void logLines.push(line) });

const spec: ComponentSpec = {
  image: "example/config:1",
  inputMode: "content-ref",
  egress: "none",
  maturity: "beta",
  config: { MODE: "fast" },
  configClasses: { MODE: "public", OPENAI_API_KEY: "secret" },
  secretRefs: [{ name: "openai", key: "api-key", env: "OPENAI_API_KEY" }],
};

function manifest(name: string, body: Partial<ComponentSpec>): string {
  return JSON.stringify({ apiVersion: "tessera.dev/v1alpha1", kind: "Component", metadata: { name }, spec: body });
}

let coordinator: Coordinator;
let admin: AdminServer;
/** Every body the admin API answered in this file, with the request that got it. */
const answers: string[] = [];

async function request(path: string, init: RequestInit = {}): Promise<Response> {
  const response = await fetch(`${admin.url}${path}`, init);
  answers.push(`${init.method ?? "GET"} ${path} ${response.status}\n${await response.clone().text()}`);
  return response;
}

const withToken = (token: string, body: unknown): RequestInit => ({
  method: "PUT",
  headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
  body: JSON.stringify(body),
});

beforeAll(async () => {
  coordinator = await createCoordinator({
    bus: createInProcessBus(),
    components: [{ name: "configured", spec }],
    env: {
      TESSERA_ADMIN_TOKEN: SECRET,
      TESSERA_FETCH_SECRETS: JSON.stringify({
        docs: { authorization: `Bearer ${FETCH_SECRET}`, origins: ["https://docs.example.com"] },
      }),
    },
    sharedConfig: { "ui.banner": PUBLIC },
    sharedConfigClasses: { "ui.banner": "public" },
    logger,
  });
  admin = await startAdminServer(coordinator, { logger, dashboard: dashboardAssetsDir() });
}, 60_000);

afterAll(async () => {
  await admin?.close();
  await coordinator?.close();
});

describe("a secret never leaves", () => {
  it("the admin API: settings, errors quoting it, the audit log, health, metrics and the OpenAPI document", async () => {
    const settings = (await (await request("/api/v1/settings")).json()) as {
      items: { name: string; class: string; value: unknown }[];
    };
    expect(settings.items.find((s) => s.name === "admin.token")).toMatchObject({ class: "secret", value: REDACTED });
    expect(settings.items.find((s) => s.name === "ui.banner")).toMatchObject({ class: "public", value: PUBLIC });
    // Every setting has a class.
    expect(settings.items.every((s) => ["public", "internal", "secret", "local-only"].includes(s.class))).toBe(true);

    // The token pasted into the wrong setting: the parser's message quotes the value; the answer does not.
    const wrongField = await request("/api/v1/settings/relay.batchSize", withToken(SECRET, { value: SECRET }));
    expect(wrongField.status).toBe(400);
    expect(await wrongField.text()).toContain(REDACTED);
    expect((await request("/api/v1/settings/admin.token", withToken(SECRET, { value: SECRET }))).status).toBe(400);
    // A header value from inside fetch.secrets (a JSON secret), pasted into a setting, is scrubbed as well.
    const pasted = await request(
      "/api/v1/settings/relay.batchSize",
      withToken(SECRET, { value: `Bearer ${FETCH_SECRET}` }),
    );
    expect(await pasted.text()).toContain(REDACTED);
    // Refused with a wrong token that is the real one plus a letter, and a submit naming it as a component.
    expect((await request("/api/v1/settings/relay.batchSize", withToken(`${SECRET}x`, { value: 5 }))).status).toBe(401);
    const submit = await request("/api/v1/jobs", {
      method: "POST",
      headers: { authorization: `Bearer ${SECRET}`, "content-type": "application/json" },
      body: JSON.stringify({ component: SECRET, input: { text: "hello" } }),
    });
    expect(submit.status).toBeGreaterThanOrEqual(400);
    expect(submit.status).toBeLessThan(500);

    const audit = (await (await request("/api/v1/audit")).json()) as { items: { action: string }[] };
    expect(audit.items.map((e) => e.action)).toEqual(Array(4).fill("settings.put"));
    for (const path of ["/healthz", "/readyz", "/metrics", "/openapi.json", "/api/v1/components/configured"])
      expect((await request(path)).status).toBe(200);

    const all = answers.join("\n");
    expect(all).not.toContain(SECRET);
    expect(all).not.toContain(SECRET.slice(0, 40));
    expect(all).not.toContain(FETCH_SECRET);
    expect(all).toContain(PUBLIC);
  });

  it("the dashboard: its page and every asset it loads", async () => {
    expect(isDashboardBuilt()).toBe(true);
    const page = await (await request("/")).text();
    const assets = [...page.matchAll(/(?:src|href)="(\/[^"]+)"/g)].map((m) => m[1] as string);
    expect(assets.some((a) => a.endsWith(".js"))).toBe(true);
    const bodies = [page, ...(await Promise.all(assets.map(async (a) => (await request(a)).text())))].join("\n");
    for (const marker of [SECRET, FETCH_SECRET]) expect(bodies).not.toContain(marker);
    // Not even public config is built into the bundle: the page reads what it shows from the admin API.
    expect(bodies).not.toContain(PUBLIC);
  });

  it("`tessera config`: class, category, source and value, secrets redacted, as a table and as JSON", async () => {
    const table = await runTessera(["config", "--url", admin.url]);
    expect(table.code).toBe(0);
    const lines = table.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^NAME\s+CATEGORY\s+CLASS\s+SOURCE\s+VALUE$/);
    expect(lines.find((l) => l.startsWith("admin.token "))).toMatch(
      /^admin\.token\s+bootstrap\s+secret\s+env\s+\(set\)$/,
    );
    expect(lines.find((l) => l.startsWith("ui.banner "))).toMatch(
      new RegExp(`^ui\\.banner\\s+shared\\s+public\\s+default\\s+${PUBLIC}$`),
    );
    expect(lines.find((l) => l.startsWith("relay.batchSize "))).toMatch(
      /^relay\.batchSize\s+operational\s+internal\s+default\s+256$/,
    );
    const json = await runTessera(["config", "--json", "--class", "secret", "--url", admin.url]);
    const items = (JSON.parse(json.stdout) as { items: { name: string; value: unknown }[] }).items;
    expect(items.map((i) => i.name).sort()).toEqual(["admin.token", "database.url", "fetch.secrets", "nats.url"]);
    expect(items.find((i) => i.name === "database.url")?.value).toBeNull();
    const one = await runTessera(["config", "ui.banner", "--json", "--url", admin.url]);
    expect(JSON.parse(one.stdout)).toMatchObject({ name: "ui.banner", class: "public", value: PUBLIC });
    const missing = await runTessera(["config", "no.such.setting", "--url", admin.url]);
    expect(missing.code).toBe(4);
    expect((await runTessera(["config", "--class", "hidden", "--url", admin.url])).code).toBe(2);
    for (const out of [table, json, one, missing]) expect(`${out.stdout}${out.stderr}`).not.toContain(SECRET);
  });

  it("a start-up error: a database URL's password, quoted by the parser, is scrubbed", async () => {
    const failed = createCoordinator({
      bus: createInProcessBus(),
      components: [],
      env: { DATABASE_URL: `mysql://tessera:${SECRET}@db.internal/jobs` },
      logger,
    });
    const error = await failed.then(
      () => undefined,
      (err: unknown) => err as Error,
    );
    expect(error?.message).toMatch(/^setting database\.url from environment variable DATABASE_URL: expected/);
    expect(error?.message).not.toContain(SECRET);
  });

  it("`tessera render`: a secretRef only as secretKeyRef, with the build and maturity as annotations", async () => {
    const dir = await tempFiles({ "configured.json": manifest("configured", spec) });
    const out = await runTessera(["render", join(dir, "configured.json")], {
      env: { TESSERA_VERSION: "1.2.3", TESSERA_COMMIT: "abc1234" },
    });
    expect(out.code).toBe(0);
    expect(out.stdout).toMatch(
      /name: OPENAI_API_KEY\n\s+valueFrom:\n\s+secretKeyRef:\n\s+name: openai\n\s+key: api-key/,
    );
    expect(out.stdout).toContain("tessera.dev/version: 1.2.3");
    expect(out.stdout).toContain("tessera.dev/commit: abc1234");
    expect(out.stdout).toContain("tessera.dev/maturity: beta");
  });

  it("a manifest that writes a secret value in config is refused, and the refusal does not repeat it", async () => {
    const dir = await tempFiles({
      "leaky.json": manifest("leaky", { ...spec, config: { TOKEN: SECRET }, configClasses: { TOKEN: "secret" } }),
    });
    for (const command of ["render", "validate"]) {
      const out = await runTessera([command, join(dir, "leaky.json")]);
      expect(out.code).toBe(1);
      expect(`${out.stdout}${out.stderr}`).toContain(
        "spec.configClasses.TOKEN: expected public, internal or local-only",
      );
      expect(`${out.stdout}${out.stderr}`).not.toContain(SECRET);
    }
  });

  it("the logs of everything above", () => {
    expect(logLines.length).toBeGreaterThan(0);
    const logs = logLines.join("");
    for (const marker of [SECRET, SECRET.slice(0, 40), FETCH_SECRET]) expect(logs).not.toContain(marker);
  });

  it("the traces of everything above: names, attributes, events, status, links, resource", () => {
    const finished = spans.getFinishedSpans();
    // The admin API's requests above made server spans: the search below looks at something.
    expect(finished.filter((s) => s.kind === SpanKind.SERVER).length).toBeGreaterThan(5);
    const exported = JSON.stringify(
      finished.map((s) => ({
        name: s.name,
        attributes: s.attributes,
        events: s.events,
        status: s.status,
        links: s.links,
        resource: s.resource.attributes,
      })),
    );
    for (const marker of [SECRET, SECRET.slice(0, 40), FETCH_SECRET]) expect(exported).not.toContain(marker);
  });
});

describe("a local-only value is refused outside local", () => {
  const stub = {
    ...spec,
    config: { ...spec.config, FAKE_PAYMENTS: "1" },
    configClasses: { FAKE_PAYMENTS: "local-only" as const },
  };

  it("in a manifest: `tessera render --env staging|production` refuses (exit 2), local renders it", async () => {
    const dir = await tempFiles({ "stub.json": manifest("stub", { ...stub, resources: RESOURCES }) });
    for (const environment of ["staging", "production"]) {
      const out = await runTessera(["render", join(dir, "stub.json"), "--env", environment]);
      expect(out.code).toBe(2);
      expect(out.stderr).toContain(`refusing to render in ${environment} (TESSERA_ENV)`);
      expect(out.stderr).toContain(`[local_only_config] component stub: config FAKE_PAYMENTS is local-only`);
    }
    const local = await runTessera(["render", join(dir, "stub.json"), "--env", "local"]);
    expect(local.code).toBe(0);
    // In the component's ConfigMap (the Deployment reads it by configMapKeyRef).
    expect(local.stdout).toMatch(/^kind: ConfigMap$/m);
    expect(local.stdout).toMatch(/^\s+FAKE_PAYMENTS: "1"$/m);
  });

  it("as a setting or a registered component's config: the coordinator refuses to start in staging", async () => {
    const start = (environment: string, withStubComponent: boolean): Promise<Coordinator> =>
      createCoordinator({
        bus: createInProcessBus(),
        components: withStubComponent ? [{ name: "stub", spec: stub }] : [],
        env: { TESSERA_ENV: environment },
        sharedConfig: { "payments.stub": withStubComponent ? null : "always-approve" },
        sharedConfigClasses: { "payments.stub": "local-only" },
        workers: "in-process",
        logger,
      });
    await expect(start("staging", false)).rejects.toThrow(
      /\[local_only_config\] setting payments\.stub is local-only and has a value \(from default\)/,
    );
    await expect(start("staging", true)).rejects.toThrow(/\[local_only_config\] component stub: config FAKE_PAYMENTS/);
    const local = await start("local", false);
    expect(local.settings.get("payments.stub")).toMatchObject({ class: "local-only", value: "always-approve" });
    await local.close();
  });

  it("a shared setting cannot be secret: it is stamped into every job", async () => {
    await expect(
      createCoordinator({
        bus: createInProcessBus(),
        components: [],
        env: {},
        sharedConfig: { "api.key": "x" },
        sharedConfigClasses: { "api.key": "secret" },
        logger,
      }),
    ).rejects.toThrow(/shared setting api\.key: a secret cannot be shared config/);
  });
});

const RESOURCES: ComponentSpec["resources"] = {
  requests: { cpu: "100m", memory: "128Mi" },
  limits: { memory: "256Mi" },
};
