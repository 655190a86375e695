/**
 * Every PromQL expression in deploy/observability (dashboard targets and variables, alert rules) parses,
 * and every metric it names is one the code registers: a renamed metric breaks this test, not a dashboard
 * nobody looks at until the incident. Parsed with Prometheus's own grammar (@prometheus-io/lezer-promql).
 */
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parser } from "@prometheus-io/lezer-promql";
import { CONTROLLER_METRIC_NAMES, ControllerMetrics } from "@tessera/controller";
import { COORDINATOR_METRIC_NAMES } from "@tessera/coordinator";
import { WORKER_METRIC_NAMES } from "@tessera/worker";
import { describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const observability = join(root, "deploy", "observability");
const registered = new Set([...COORDINATOR_METRIC_NAMES, ...WORKER_METRIC_NAMES, ...CONTROLLER_METRIC_NAMES]);
/** The series a histogram or summary exports besides its name. */
const SERIES_SUFFIXES = ["_bucket", "_count", "_sum"];

/** The metric names an expression selects, or the parse errors' positions. */
export function metricNames(expr: string): { names: string[]; errors: number[] } {
  const names: string[] = [];
  const errors: number[] = [];
  const text = (from: number, to: number): string => expr.slice(from, to);
  parser.parse(expr).iterate({
    enter(node) {
      if (node.type.isError) errors.push(node.from);
      if (node.name === "Identifier" && node.node.parent?.name === "VectorSelector")
        names.push(text(node.from, node.to));
      // {__name__="..."}: a selector by name written as a label matcher.
      if (node.name === "UnquotedLabelMatcher") {
        const label = node.node.getChild("LabelName");
        const value = node.node.getChild("StringLiteral");
        if (label !== null && value !== null && text(label.from, label.to) === "__name__")
          names.push(JSON.parse(text(value.from, value.to)) as string);
      }
    },
  });
  return { names, errors };
}

function isRegistered(name: string): boolean {
  if (registered.has(name)) return true;
  const suffix = SERIES_SUFFIXES.find((s) => name.endsWith(s));
  return suffix !== undefined && registered.has(name.slice(0, -suffix.length));
}

interface Expression {
  where: string;
  expr: string;
}

function dashboardExpressions(): Expression[] {
  const dir = join(observability, "dashboards");
  const found: Expression[] = [];
  for (const file of readdirSync(dir).filter((f) => f.endsWith(".json"))) {
    const dashboard = JSON.parse(readFileSync(join(dir, file), "utf8")) as {
      panels: Array<{ title: string; targets?: Array<{ expr: string }> }>;
      templating: { list: Array<{ name: string; query?: unknown }> };
    };
    for (const panel of dashboard.panels)
      for (const target of panel.targets ?? []) found.push({ where: `${file}: ${panel.title}`, expr: target.expr });
    for (const variable of dashboard.templating.list) {
      const query = (variable.query as { query?: string } | undefined)?.query;
      // Grafana's label_values(<selector>, <label>) is not PromQL; its selector is.
      const selector = query === undefined ? undefined : /^label_values\((.+),\s*\w+\)$/.exec(query)?.[1];
      if (selector !== undefined) found.push({ where: `${file}: variable ${variable.name}`, expr: selector });
    }
  }
  return found;
}

interface AlertRule {
  alert: string;
  expr: string;
  annotations?: Record<string, string>;
}

function alertRules(): AlertRule[] {
  const file = parseYaml(readFileSync(join(observability, "rules", "tessera-alerts.yml"), "utf8")) as {
    groups: Array<{ rules: AlertRule[] }>;
  };
  return file.groups.flatMap((g) => g.rules);
}

describe("PromQL in deploy/observability", () => {
  it("the checker itself finds names, including {__name__=...}, and notices a parse error", () => {
    expect(metricNames('sum(rate(a_total[5m])) / on (x) {__name__="b"}').names).toEqual(["a_total", "b"]);
    expect(metricNames("sum(rate(a_total[5m])").errors).not.toEqual([]);
  });

  it("has the four dashboards", () => {
    const files = readdirSync(join(observability, "dashboards")).sort();
    expect(files).toEqual(["component.json", "controller.json", "coordinator.json", "overview.json"]);
  });

  const expressions = [
    ...dashboardExpressions(),
    ...alertRules().map((r) => ({ where: `alert ${r.alert}`, expr: r.expr })),
  ];
  it.each(expressions)("$where: $expr", ({ expr }) => {
    const { names, errors } = metricNames(expr);
    expect(errors, "parse errors at these offsets").toEqual([]);
    expect(names.length, "names no metric").toBeGreaterThan(0);
    expect(
      names.filter((n) => !isRegistered(n)),
      "metrics no process registers",
    ).toEqual([]);
  });

  it("gives every alert a runbook that docs/observability.md has a section for", () => {
    const doc = readFileSync(join(root, "docs", "observability.md"), "utf8");
    const anchors = new Set(
      [...doc.matchAll(/^#+ (.+)$/gm)].map((m) =>
        (m[1] ?? "")
          .toLowerCase()
          .replace(/[^a-z0-9 -]/g, "")
          .replace(/ /g, "-"),
      ),
    );
    const rules = alertRules();
    expect(rules.map((r) => r.alert).sort()).toEqual([
      "TesseraComponentQueuedNoInstance",
      "TesseraDeadLettersGrowing",
      "TesseraNatsUnreachable",
      "TesseraReconcileErrors",
      "TesseraRelayLag",
    ]);
    for (const rule of rules) {
      const runbook = rule.annotations?.["runbook_url"] ?? "";
      expect(runbook, rule.alert).toMatch(/^docs\/observability\.md#/);
      expect(anchors, `${rule.alert}: ${runbook}`).toContain(runbook.split("#")[1]);
    }
  });

  it("the controller's list of names is what its registry registers", async () => {
    const metrics = new ControllerMetrics({ queueDepth: () => 0, natsReachable: () => true, apiReachable: () => true });
    const names = (await metrics.registry.getMetricsAsJSON()).map((m) => m.name);
    expect(names.sort()).toEqual([...CONTROLLER_METRIC_NAMES].sort());
  });
});
