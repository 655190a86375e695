/**
 * Prometheus's own checker on what Tessera ships: the alert rules (`promtool check rules`), their unit
 * tests (`promtool test rules`), and the controller's exposition (`promtool check metrics`; the coordinator's
 * and the worker's are checked live in prometheus-scrape.test.ts, where they run for real).
 */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { ControllerMetrics } from "@tessera/controller";
import { describe, expect, it } from "vitest";
import { requireTool, run } from "./support/tools.js";

const rules = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "deploy", "observability", "rules");
const promtool = requireTool("promtool", "the promtool checks of the alert rules and the controller's metrics");

describe.skipIf(promtool === undefined)("promtool", () => {
  const tool = promtool ?? "promtool";

  it("accepts the alert rules", async () => {
    const { code, output } = await run(tool, ["check", "rules", "tessera-alerts.yml"], { cwd: rules });
    expect(output).toContain("SUCCESS: 5 rules found");
    expect(code, output).toBe(0);
  });

  it("passes the rules' unit tests", async () => {
    const { code, output } = await run(tool, ["test", "rules", "tessera-alerts.test.yml"], { cwd: rules });
    expect(output).toContain("SUCCESS");
    expect(code, output).toBe(0);
  });

  it("finds nothing to complain about in the controller's /metrics", async () => {
    const metrics = new ControllerMetrics({
      queueDepth: () => 2,
      natsReachable: () => true,
      apiReachable: () => false,
    });
    metrics.reconciled("ok", 0.02);
    metrics.reconciled("error", 0.3);
    const { code, output } = await run(tool, ["check", "metrics"], { stdin: await metrics.registry.metrics() });
    expect(output).toBe("");
    expect(code, output).toBe(0);
  });
});
