import { spawn, execFile, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { createInProcessBus } from "@tessera/bus";
import { GuardRailError, type Message } from "@tessera/contract";
import { createCoordinator, startAdminServer } from "@tessera/coordinator";
import { InProcessInboundStream, connectGatewayFeed, standardWebhookHeaders } from "@tessera/gateway";
import { freePort, startNatsServer } from "@tessera/testkit";
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { mountDevGateway } from "../src/dev/dev-gateway.js";
import { runTessera, startTessera } from "./helpers/run-tessera.js";

const here = dirname(fileURLToPath(import.meta.url));
const BIN = resolve(here, "../bin/tessera.js");
const DOCUMENTS = resolve(here, "../../../examples/documents");
const run = promisify(execFile);
const silent = pino({ level: "silent" });

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

/** A `tessera` child process, stopped (SIGTERM, then SIGKILL) when the test ends. */
function tesseraProcess(args: string[], env: Record<string, string>): { child: ChildProcess; output(): string } {
  const child = spawn(process.execPath, [BIN, ...args], {
    env: { PATH: process.env["PATH"] ?? "", HOME: process.env["HOME"] ?? "", LOG_LEVEL: "silent", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout!.on("data", (d: Buffer) => (output += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (output += d.toString()));
  cleanups.push(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once("exit", r));
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
    await exited;
    clearTimeout(timer);
  });
  return { child, output: () => output };
}

async function curlJson(url: string, body: string, headers: Record<string, string> = {}) {
  const { stdout } = await run("curl", [
    "-sS",
    "-w",
    "\n%{http_code}",
    "-H",
    "content-type: application/json",
    ...Object.entries(headers).flatMap(([k, v]) => ["-H", `${k}: ${v}`]),
    "-d",
    body,
    url,
  ]);
  const lines = stdout.trimEnd().split("\n");
  return { status: Number(lines.pop()), json: JSON.parse(lines.join("\n")) as Record<string, unknown> };
}

describe("tessera dev mounts the gateway", { timeout: 180_000 }, () => {
  it("shows the gateway's URL; a webhook sent with curl appears in `tessera gateway tail`, once however often it is sent", async () => {
    const adminPort = await freePort();
    const dev = tesseraProcess(["dev", DOCUMENTS, "--port", String(adminPort)], {});
    await expect.poll(dev.output, { timeout: 120_000, interval: 200 }).toMatch(/webhook\s+curl .*\n/);
    const banner = dev.output();
    expect(banner).toMatch(/gateway\s+http:\/\/127\.0\.0\.1:\d+/);
    // The banner's own curl line, as a user would paste it.
    const webhookUrl = /webhook\s+curl .* (http:\S+)/.exec(banner)![1]!;
    expect(webhookUrl).toMatch(/\/hooks\/sample\/dev\/local$/);
    const adminUrl = `http://127.0.0.1:${adminPort}`;

    const tail = startTessera(["gateway", "tail", "--url", adminUrl, "--json", "--count", "2"]);
    await expect.poll(tail.stderr, { timeout: 20_000 }).toContain("following inbound messages");

    const first = await curlJson(webhookUrl, '{"text":"hello"}');
    expect(first).toMatchObject({ status: 200, json: { ok: true, duplicate: false } });
    // The same webhook again (a platform's retry): stored once.
    const again = await curlJson(webhookUrl, '{"text":"hello"}');
    expect(again).toMatchObject({ status: 200, json: { ok: true, duplicate: true, id: first.json["id"] } });
    await curlJson(webhookUrl, '{"text":"second","sender":"ann"}');

    const tailed = await tail.result;
    expect(tailed.code).toBe(0);
    const messages = tailed.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Message);
    expect(messages.map((m) => [m.text, m.sender.id, m.channel_type, m.scope.tenant, m.scope.account])).toEqual([
      ["hello", "curl", "sample", "dev", "local"],
      ["second", "ann", "sample", "dev", "local"],
    ]);
    expect(messages[0]!.id).toBe(first.json["id"]);

    const health = await runTessera(["gateway", "health", "--url", adminUrl, "--json"]);
    expect(JSON.parse(health.stdout)).toMatchObject({
      mode: "in-process",
      streams: [{ name: "TESSERA_GW_INBOUND", messages: 2, lastSeq: 2 }],
    });
    const accounts = await runTessera(["gateway", "accounts", "--url", adminUrl]);
    expect(accounts.stdout).toContain("sample/dev/local");
  });

  it("production refuses the embedded inbound stream; staging warns and mounts no unsigned sample", async () => {
    const bus = createInProcessBus();
    const coordinator = await createCoordinator({
      bus,
      components: [],
      database: { memory: true },
      env: {},
      logger: silent,
    });
    cleanups.push(() => coordinator.close().then(() => bus.close()));
    const mount = (environment: "production" | "staging", warnings: string[] = []) =>
      mountDevGateway({
        coordinator,
        environment,
        inbound: { kind: "in-process", stream: new InProcessInboundStream() },
        host: "127.0.0.1",
        port: 0,
        onWarning: (f) => warnings.push(f.rule),
      });
    const refused = await mount("production").catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(GuardRailError);
    expect((refused as GuardRailError).findings.map((f) => f.rule)).toEqual(["gateway_inbound_stream"]);
    const warnings: string[] = [];
    const staging = await mount("staging", warnings);
    cleanups.push(() => staging.stop());
    expect(warnings).toEqual(["gateway_inbound_stream"]);
    expect(staging.sampleWebhookUrl).toBeUndefined();
    const res = await fetch(`${staging.url}/hooks/sample/dev/local`, {
      method: "POST",
      body: "{}",
      headers: { "content-type": "application/json" },
    });
    expect(res.status).toBe(404);
  });
});

describe("tessera gateway as its own process, accounts from the control plane", { timeout: 180_000 }, () => {
  it("serves an account installed and keyed through the CLI, and a disable reaches it at once through NATS", async () => {
    const nats = await startNatsServer();
    cleanups.push(() => nats.stop());
    const vaultKeys = `k1:${randomBytes(32).toString("base64")}`;
    const feed = await connectGatewayFeed(nats.url);
    cleanups.push(() => feed.close());
    const bus = createInProcessBus();
    const coordinator = await createCoordinator({
      bus,
      components: [],
      database: { memory: true },
      env: { TESSERA_VAULT_KEYS: vaultKeys },
      logger: silent,
      gateway: { feed: feed.feed },
    });
    cleanups.push(() => coordinator.close().then(() => bus.close()));
    const admin = await startAdminServer(coordinator);
    cleanups.push(() => admin.close());
    const secret = `whsec_${randomBytes(24).toString("base64")}`;
    const cli = (args: string[], env: Record<string, string> = {}) =>
      runTessera([...args, "--url", admin.url], { env });

    expect((await cli(["gateway", "install", "webhook/globex/crm"])).code).toBe(0);
    const rotated = await cli(["gateway", "rotate", "webhook/globex/crm", "--signing-secret-env", "HOOK_SECRET"], {
      HOOK_SECRET: secret,
    });
    expect(rotated.code).toBe(0);
    expect(rotated.stdout).not.toContain(secret);

    const port = await freePort();
    // A long cache: only the announcement on NATS can make the disable visible in time.
    const gateway = tesseraProcess(
      [
        "gateway",
        "--nats",
        nats.url,
        "--admin-url",
        admin.url,
        "--port",
        String(port),
        "--cache-ms",
        "600000",
        "--no-send",
      ],
      { TESSERA_VAULT_KEYS: vaultKeys },
    );
    await expect.poll(gateway.output, { timeout: 120_000, interval: 200 }).toContain("tessera gateway: webhooks on");
    const url = `http://127.0.0.1:${port}/hooks/webhook/globex/crm`;
    const post = (id: string) => {
      const body = JSON.stringify({ conversation: "c1", sender: { id: "u1" }, text: `from ${id}` });
      return curlJson(url, body, { ...standardWebhookHeaders([secret], id, Math.floor(Date.now() / 1000), body) });
    };
    const tail = await startTail(admin.url);
    expect(await post("msg_1")).toMatchObject({ status: 200, json: { ok: true, duplicate: false } });
    await expect.poll(() => tail.seen.map((m) => m.text), { timeout: 10_000 }).toEqual(["from msg_1"]);
    const health = JSON.parse((await cli(["gateway", "health", "--json"])).stdout) as {
      mode: string;
      streams: { name: string; messages: number }[];
    };
    expect(health.mode).toBe("jetstream");
    expect(health.streams.find((s) => s.name === "TESSERA_GW_INBOUND")?.messages).toBe(1);

    expect((await cli(["gateway", "disable", "webhook/globex/crm"])).code).toBe(0);
    await expect.poll(async () => (await post("msg_2")).status, { timeout: 5_000 }).toBe(403);
    expect(tail.seen).toHaveLength(1);
  });
});

async function startTail(adminUrl: string): Promise<{ seen: Message[] }> {
  const { AdminClient } = await import("@tessera/client");
  const stream = await new AdminClient(adminUrl).gatewayTail();
  const seen: Message[] = [];
  void (async () => {
    for await (const m of stream) seen.push(m);
  })();
  cleanups.push(async () => stream.close());
  return { seen };
}
