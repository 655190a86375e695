/**
 * Schemathesis fuzzes the admin API from its own served OpenAPI document: a coordinator in embedded mode (the
 * test components of coordinator-under-test.ts, an admin token as in production) on a loopback port, and the
 * schemathesis CLI as a child process. The run fails on a 5xx, a response that its operation does not
 * document (status, content type, headers, body schema), a schema-invalid request that is accepted, a change
 * that goes through without the token, or a request that hangs; then the coordinator must still answer.
 *
 * scripts/install-schemathesis.sh installs the pinned version (.ci/run does); without it this test is skipped,
 * and fails in CI. Findings become fast tests in test/http/fuzz-findings.test.ts.
 */
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import { createEgress, type Egress } from "@tessera/egress";
import { OAuthTestServer } from "@tessera/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeCoordinator, type CoordinatorUnderTest } from "../http/coordinator-under-test.js";

const ROOT = fileURLToPath(new URL("../../../../", import.meta.url));
const INSTALL = "scripts/install-schemathesis.sh";
const CONFIG = fileURLToPath(new URL("./schemathesis.toml", import.meta.url));
const TOKEN = "fuzz-admin-token-0123456789abcdef";
/** Fixed, so that CI is reproducible; TESSERA_FUZZ_SEED (and TESSERA_FUZZ_EXAMPLES) explore further by hand. */
const SEED = process.env["TESSERA_FUZZ_SEED"] ?? "1";
const EXAMPLES = process.env["TESSERA_FUZZ_EXAMPLES"];
/** A run takes about a minute on two cores, two beside the rest of the suite; past this it is stuck, and is ended. */
const RUN_TIMEOUT_MS = 420_000;

function findSchemathesis(): { path: string } | { missing: string } {
  const found = spawnSync("bash", [INSTALL, "--path"], { cwd: ROOT, encoding: "utf8" });
  if (found.status === 0) return { path: found.stdout.trim() };
  const why = found.stderr.trim() || found.error?.message || `exit ${found.status}`;
  return {
    missing: `schemathesis is not installed (${why}); run ${INSTALL}, which puts the pinned version in a virtualenv under ~/.cache/tessera (needs python3 with venv)`,
  };
}

function run(command: string, args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "pipe"],
      timeout: RUN_TIMEOUT_MS,
      // schemathesis.toml sends the token from the environment, so it stays out of the command line (ps).
      env: { ...process.env, NO_COLOR: "1", TESSERA_FUZZ_TOKEN: TOKEN },
    });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, output }));
  });
}

const schemathesis = findSchemathesis();
if ("missing" in schemathesis) {
  // .ci/run installs it, so in CI the fuzzer cannot silently stop running.
  if (process.env["CI"] === "true") throw new Error(schemathesis.missing);
  console.warn(`skipping the admin API fuzz test: ${schemathesis.missing}`);
}

describe.skipIf("missing" in schemathesis)("schemathesis against the served OpenAPI document", () => {
  let env: CoordinatorUnderTest;
  let auth: OAuthTestServer;
  let egress: Egress;
  beforeAll(async () => {
    // Connectors configured (provider `mock` on a real authorization server), so the connection routes are
    // fuzzed past "not configured": begins, callbacks with made-up states, disconnects.
    auth = await OAuthTestServer.start();
    egress = createEgress({ allow: { cidrs: ["127.0.0.1/32"] } });
    env = await makeCoordinator(
      { adminToken: TOKEN },
      {
        env: { TESSERA_VAULT_KEYS: `k1:${randomBytes(32).toString("base64")}` },
        connectors: {
          providers: [
            {
              provider: { config: auth.providerConfig("mock") },
              client: {
                clientId: "tesserafuzz",
                clientSecret: "fuzz-client-secret",
                redirectUri: "http://127.0.0.1:1/cb",
              },
            },
          ],
          egress,
          allowInsecureRequests: true,
        },
      },
    );
  });
  afterAll(async () => {
    await env?.close();
    await egress?.close();
    await auth?.stop();
  });

  it(
    "finds no 5xx, no undocumented or off-schema response, no accepted invalid request and no hang",
    { timeout: RUN_TIMEOUT_MS + 30_000 },
    async () => {
      const executable = "path" in schemathesis ? schemathesis.path : "";
      const { code, output } = await run(executable, [
        "--no-color",
        "--config-file",
        CONFIG,
        "run",
        `${env.admin.url}/openapi.json`,
        "--seed",
        SEED,
        "--workers",
        "1",
        ...(EXAMPLES === undefined ? [] : ["--max-examples", EXAMPLES]),
      ]);
      // Its report names each failure with a curl command that reproduces it.
      expect(code, output.slice(-20_000)).toBe(0);
      const health = await fetch(`${env.admin.url}/healthz`);
      expect(health.status).toBe(200);
    },
  );
});
