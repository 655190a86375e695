/**
 * Measures what the admin-API and CLI attacks of issue 16 do now to `tessera dev examples/documents`
 * (embedded: the coordinator, the admin API and the components share one process), watched from this
 * process as measure-hostile.ts watches the documents; prints a Markdown table:
 *   node --conditions=@tessera/source --import tsx examples/documents/scripts/measure-api-attacks.ts [word]
 * With a word, only the attacks whose name contains it.
 * The regression tests for each attack live with the code they guard; this script only measures.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { request, type ClientRequest } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startTesseraDev, type DevProcess } from "@tessera/testkit";
import { watchHost } from "../test/host-watch.js";

const DOCUMENTS = fileURLToPath(new URL("..", import.meta.url));
const CLI_MAIN = fileURLToPath(new URL("../../../packages/cli/src/main.ts", import.meta.url));
const TOKEN = "measure-api-attacks-token";
const mb = (bytes: number): string => `${Math.round(bytes / 1e6)} MB`;
const ms = (n: number): string => `${Math.round(n).toLocaleString("en-US")} ms`;
const rss = (pid: number): number =>
  Number(/^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1]) * 1024;

interface Outcome {
  /** What the attacker saw, in a few words. */
  now: string;
}

interface Attack {
  name: string;
  /** What the issue recorded before the fix. */
  before: string;
  /** The host runs without an admin token (a loopback dev host takes changes without one). */
  tokenless?: boolean;
  run(dev: DevProcess): Promise<Outcome>;
}

async function send(
  dev: DevProcess,
  path: string,
  init: { method?: string; body?: string; headers?: Record<string, string> } = {},
): Promise<{ status: number; text: string }> {
  const res = await fetch(new URL(path, dev.dashboardUrl), {
    method: init.method ?? "GET",
    headers: { "content-type": "application/json", ...init.headers },
    ...(init.body === undefined ? {} : { body: init.body }),
  });
  return { status: res.status, text: await res.text() };
}

const authorized = { authorization: `Bearer ${TOKEN}` };
const submit = (dev: DevProcess, body: unknown, headers: Record<string, string> = authorized) =>
  send(dev, "/api/v1/jobs", { method: "POST", body: JSON.stringify(body), headers });
/** What a 4xx body says: the fields its issues name, else its message (clipped). */
const named = (text: string): string => {
  try {
    const { error } = JSON.parse(text) as { error: { message: string; issues?: Array<{ path: string }> } };
    const paths = (error.issues ?? []).map((i) => i.path).filter((p) => p !== "");
    return paths.length > 0 ? paths.join(", ") : error.message.slice(0, 70);
  } catch {
    return text.slice(0, 70);
  }
};

/** Runs the CLI from source with `args`, as the `tessera` launcher does. */
function cli(args: string[], env: Record<string, string> = {}): { code: number | null; out: string; ms: number } {
  const started = performance.now();
  const r = spawnSync(process.execPath, ["--conditions=@tessera/source", "--import", "tsx", CLI_MAIN, ...args], {
    env: { ...process.env, NO_COLOR: "1", TESSERA_ADMIN_TOKEN: TOKEN, ...env },
    encoding: "utf8",
    timeout: 120_000,
    maxBuffer: 1 << 20,
  });
  const out = `${r.stdout}${r.stderr}`.trim().split("\n")[0] ?? "";
  return { code: r.status, out: out.length > 90 ? `${out.slice(0, 90)}…` : out, ms: performance.now() - started };
}

const ATTACKS: Attack[] = [
  {
    name: "submit and redrive-all with `Host: attacker.example` and a matching `Origin` (DNS rebinding)",
    before: "201 and 200: accepted",
    tokenless: true,
    async run(dev) {
      const headers = { host: "attacker.example", origin: "http://attacker.example" };
      // fetch refuses to forge Host; a raw request does what a rebinding page's browser would send.
      const statuses = await Promise.all(
        [
          ["/api/v1/jobs", JSON.stringify({ component: "extract", input: { json: "x" } })],
          ["/api/v1/dlq/redrive", "{}"],
        ].map(
          ([path, body]) =>
            new Promise<number>((resolve, reject) => {
              const url = new URL(path ?? "", dev.dashboardUrl);
              const req: ClientRequest = request(
                url,
                { method: "POST", headers: { ...headers, "content-type": "application/json" } },
                (res) => {
                  res.resume();
                  resolve(res.statusCode ?? 0);
                },
              );
              req.on("error", reject);
              req.end(body);
            }),
        ),
      );
      return { now: `${statuses.join(" and ")}: refused before any route` };
    },
  },
  {
    name: "20,000 cancels without the admin token",
    before: "each audited in a list never pruned: +73 MB",
    async run(dev) {
      const pid = dev.process.proc.pid ?? 0;
      const before = rss(pid);
      const statuses = new Map<number, number>();
      for (let round = 0; round < 400; round++)
        await Promise.all(
          Array.from({ length: 50 }, async (_, i) => {
            const { status } = await send(dev, `/api/v1/jobs/j-${round}-${i}/cancel`, { method: "POST", body: "{}" });
            statuses.set(status, (statuses.get(status) ?? 0) + 1);
          }),
        );
      let audited = 0;
      for (let cursor: string | null = ""; cursor !== null;) {
        const query: string = cursor === "" ? "" : `&cursor=${encodeURIComponent(cursor)}`;
        const page = JSON.parse((await send(dev, `/api/v1/audit?limit=500${query}`, { headers: authorized })).text) as {
          items: unknown[];
          nextCursor: string | null;
        };
        audited += page.items.length;
        cursor = page.nextCursor;
      }
      const counts = [...statuses].map(([s, n]) => `${n.toLocaleString("en-US")} × ${s}`).join(", ");
      return {
        now: `${counts}; RSS ${mb(before)} → ${mb(rss(pid))}; ${audited} audit entries`,
      };
    },
  },
  {
    name: "submit with `maxBytes: 1e300` and `wallClockMs: 1e20`",
    before: "stored as given",
    async run(dev) {
      const r = await submit(dev, {
        component: "extract",
        input: { json: "x" },
        limits: { maxBytes: 1e300, wallClockMs: 1e20 },
      });
      return { now: `${r.status}, naming \`${named(r.text)}\`` };
    },
  },
  {
    name: "upload of 3 MB (4.2M base64 characters)",
    before: "500 (stack overflow in the base64 regex)",
    async run(dev) {
      const base64 = Buffer.alloc(3 * 1024 * 1024, 65).toString("base64");
      const started = performance.now();
      const r = await submit(dev, { component: "extract", input: { base64 }, contentType: "text/plain" });
      return { now: `${r.status} in ${ms(performance.now() - started)}` };
    },
  },
  {
    name: "upload of 17 MiB, over the documented 16 MiB",
    before: "500",
    async run(dev) {
      const base64 = Buffer.alloc(17 * 1024 * 1024, 65).toString("base64");
      const r = await submit(dev, { component: "extract", input: { base64 }, contentType: "text/plain" });
      return { now: `${r.status}` };
    },
  },
  {
    name: "NUL in `contentType`, in `?key=` and in a job id; a lone surrogate in text",
    before: "500s carrying the store's error text",
    async run(dev) {
      const results = [
        await submit(dev, { component: "extract", input: { json: "x" }, contentType: "text/plain\u0000" }),
        await send(dev, "/api/v1/jobs?key=a%00b", { headers: authorized }),
        await send(dev, "/api/v1/jobs/a%00b", { headers: authorized }),
        await submit(dev, { component: "extract", input: { text: "a\ud800b" }, contentType: "text/plain" }),
      ];
      return { now: results.map((r) => `${r.status} (\`${named(r.text)}\`)`).join(", ") };
    },
  },
  {
    name: "3,000 SSE connections",
    before: "all accepted, no cap",
    async run(dev) {
      const statuses = new Map<number, number>();
      const open: ClientRequest[] = [];
      await Promise.all(
        Array.from(
          { length: 3000 },
          () =>
            new Promise<void>((resolve) => {
              const req = request(new URL("/api/v1/events", dev.dashboardUrl), { agent: false }, (res) => {
                statuses.set(res.statusCode ?? 0, (statuses.get(res.statusCode ?? 0) ?? 0) + 1);
                if (res.statusCode !== 200) res.resume();
                resolve();
              });
              req.on("error", () => {
                statuses.set(0, (statuses.get(0) ?? 0) + 1);
                resolve();
              });
              req.end();
              open.push(req);
            }),
        ),
      );
      for (const req of open) req.destroy();
      return {
        now: [...statuses]
          .sort(([a], [b]) => a - b)
          .map(([s, n]) => `${n.toLocaleString("en-US")} × ${s === 0 ? "reset" : s}`)
          .join(", "),
      };
    },
  },
  {
    name: "`tessera jobs submit extract --file /dev/zero`",
    before: "read without bound: 8.2 GB RSS at 60 s",
    async run(dev) {
      const r = cli(["jobs", "submit", "extract", "--file", "/dev/zero", "--url", dev.dashboardUrl]);
      return { now: `exit ${r.code} in ${ms(r.ms)}: ${r.out}` };
    },
  },
  {
    name: "`--file` over the server's limit (20 MiB)",
    before: "“cannot reach the coordinator”, exit 3",
    async run(dev) {
      const file = join(mkdtempSync(join(tmpdir(), "tessera-attack-")), "big.txt");
      writeFileSync(file, Buffer.alloc(20 * 1024 * 1024, 65));
      const r = cli(["jobs", "submit", "extract", "--file", file, "--url", dev.dashboardUrl]);
      return { now: `exit ${r.code}: ${r.out}` };
    },
  },
  {
    name: "`tessera validate` on a YAML alias bomb",
    before: "uncaught stack trace",
    async run() {
      const dir = mkdtempSync(join(tmpdir(), "tessera-attack-"));
      const levels = Array.from({ length: 10 }, (_, i) =>
        i === 0
          ? `a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]`
          : `a${i}: &a${i} [${Array(9)
              .fill(`*a${i - 1}`)
              .join(",")}]`,
      );
      writeFileSync(join(dir, "bomb.yaml"), `${levels.join("\n")}\n`);
      const r = cli(["validate", join(dir, "bomb.yaml")]);
      return { now: `exit ${r.code} in ${ms(r.ms)}: ${r.out}` };
    },
  },
];

const start = cli(["--version"]);
console.log(`The CLI from source (tsx) takes ${ms(start.ms)} to print its version on this machine now.\n`);
console.log("| attack | before | now | host RSS before → peak | /healthz slowest, host's part | /healthz failed |");
console.log("|---|---|---|---:|---:|---:|");
const only = process.argv[2];
for (const attack of ATTACKS.filter((a) => only === undefined || a.name.includes(only))) {
  const env: Record<string, string> = attack.tokenless === true ? {} : { TESSERA_ADMIN_TOKEN: TOKEN };
  const dev = await startTesseraDev(DOCUMENTS, [], env, { readyTimeoutMs: 300_000 });
  const pid = dev.process.proc.pid ?? 0;
  const before = rss(pid);
  const watch = watchHost(dev.dashboardUrl, pid);
  let now: string;
  try {
    now = (await attack.run(dev)).now;
  } catch (err) {
    now = `measurement failed: ${err instanceof Error ? err.message : String(err)}`;
  }
  const host = await watch.stop();
  await dev.stop();
  console.log(
    `| ${attack.name} | ${attack.before} | ${host.exited ? "**host crashed**; " : ""}${now} | ${mb(before)} → ${mb(host.peakRssBytes)} | ${ms(host.healthz.maxOwnMs)} | ${host.healthz.failed} of ${host.healthz.requests} |`,
  );
}
process.exit(0);
