import { relative } from "node:path";
import { NatsServerNotInstalledError, startTracing, traceLogFields, TracingConfigError } from "@tessera/bus";
import { ENVIRONMENT_VARIABLE, GuardRailError, parseEnvironment } from "@tessera/contract";
import { CoordinatorError, isLoopbackHost, type JobRecord } from "@tessera/coordinator";
import { isDashboardBuilt } from "@tessera/dashboard";
import { Option, type Command } from "commander";
import { pino } from "pino";
import type { CliIo } from "../cli-io.js";
import { CliError, ExitStatus } from "../cli-error.js";
import { startDevSession, type DevMode, type DevSession } from "../dev/dev-session.js";
import { runSamples, type SamplesReport } from "../dev/run-samples.js";
import { ExitCode } from "../exit-codes.js";
import { formatDuration, formatReason, paintState } from "../output/format.js";
import { writeJson } from "../output/json.js";
import { createProgress } from "../output/progress.js";
import { styleFor, type Style } from "../output/style.js";
import { renderTable } from "../output/table.js";
import { positiveInteger } from "../options/parsers.js";
import { loadProject, type LoadedProject } from "../project/load-project.js";

interface DevOptions {
  nats?: string;
  host: string;
  port: string;
  dataDir?: string;
  samples?: boolean;
  repeat?: number;
  exit?: boolean;
  json?: boolean;
  verbose?: boolean;
  gateway: boolean;
  gatewayPort: string;
}

export function registerDevCommand(program: Command, io: CliIo): void {
  program
    .command("dev")
    .description(
      "run a project: the coordinator, its components and the admin API, embedded by default (no services to install)",
    )
    .argument("[project]", "project directory (holding tessera.project.ts) or the project file", ".")
    .addOption(
      new Option(
        "--nats <url|auto>",
        "process mode: use this NATS server, or `auto` to start nats-server -js in a temp dir; components run as autoscaled worker processes",
      ),
    )
    .option("--host <address>", "address of the admin API", io.env["TESSERA_ADMIN_HOST"] ?? "127.0.0.1")
    .option("--port <port>", "port of the admin API (0 = any free port)", io.env["TESSERA_ADMIN_PORT"] ?? "7400")
    .option(
      "--data-dir <dir>",
      "keep the jobs in PGlite in this directory, across restarts; without it they are held in memory and lost on exit (DATABASE_URL selects Postgres instead)",
    )
    .option("--samples", "submit the project's sample jobs and print their results")
    .option(
      "--repeat <n>",
      "with --samples: submit every sample n times and report the throughput",
      positiveInteger(100_000),
    )
    .option(
      "--exit",
      "with --samples: stop once every sample job and the jobs it chained are decided; exit 1 if one ended other than expected",
    )
    .option("--json", "with --samples --exit: print the report as JSON")
    .option("--verbose", "log coordinator and worker activity (info level)")
    .option("--gateway-port <port>", "port of the gateway's webhook server (0 = any free port)", "0")
    .option("--no-gateway", "do not mount the channel gateway")
    .addHelpText(
      "after",
      `
Examples:
  $ tessera dev examples/documents                      # embedded, admin API on :7400, until Ctrl-C
  $ tessera dev examples/documents --samples --exit     # run the samples, print results, exit
  $ tessera dev examples/documents --nats auto          # process mode with a local nats-server
  $ tessera dev . --nats nats://127.0.0.1:4222 --samples --repeat 50`,
    )
    .action(async (target: string, opts: DevOptions) => {
      if ((opts.exit === true || opts.repeat !== undefined || opts.json === true) && opts.samples !== true)
        throw new CliError("--exit, --repeat and --json need --samples", ExitCode.Usage);
      const port = Number(opts.port);
      if (!Number.isInteger(port) || port < 0 || port > 65_535)
        throw new CliError(
          `--port: expected a port number from 0 to 65535, got ${JSON.stringify(opts.port)}`,
          ExitCode.Usage,
        );
      const tracing = await startTracing({ serviceName: "tessera-coordinator", env: io.env }).catch((err: unknown) => {
        throw err instanceof TracingConfigError ? new CliError(err.message, ExitCode.Usage) : err;
      });
      try {
        await runDev(target, opts, io, port);
      } finally {
        await tracing?.shutdown();
      }
    });
}

function portOption(flag: string, value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65_535)
    throw new CliError(`${flag}: expected a port number from 0 to 65535, got ${JSON.stringify(value)}`, ExitCode.Usage);
  return port;
}

/** `tessera dev` once its options are checked (and tracing is set up, when `OTEL_*` asks for it). */
async function runDev(target: string, opts: DevOptions, io: CliIo, port: number): Promise<void> {
  const style = styleFor(io.stdout, io.env);
  const out = (line = ""): void => void io.stdout.write(`${line}\n`);
  const say = opts.json === true ? () => undefined : out;
  const project = await loadProject(target);
  const mode: DevMode = opts.nats === undefined ? { kind: "embedded" } : { kind: "process", nats: opts.nats };
  const log = pino(
    {
      name: "tessera-dev",
      level: opts.verbose === true ? "info" : (io.env["LOG_LEVEL"] ?? "warn"),
      mixin: traceLogFields,
    },
    pino.destination(2),
  );
  const session = await startDevSession({
    project,
    mode,
    admin: { host: opts.host, port },
    gateway: opts.gateway ? { port: portOption("--gateway-port", opts.gatewayPort) } : false,
    ...(opts.dataDir !== undefined ? { dataDir: opts.dataDir } : {}),
    env: io.env,
    log,
    onScale: (e) =>
      say(style.dim(`scale ${e.component}: ${e.from} → ${e.to} worker${e.to === 1 ? "" : "s"} (lag ${e.lag})`)),
    onWorkerExit: (e) => {
      if (!e.requested)
        say(
          style.yellow(
            `worker ${e.instanceId} exited on its own (code ${e.code ?? "-"}, signal ${e.signal ?? "-"}); the autoscaler replaces it if still needed`,
          ),
        );
    },
  }).catch((err: unknown) => {
    throw startFailure(err, opts, port);
  });
  say(banner(project, session, mode, opts, io.env, style));

  if (opts.samples === true) {
    let unexpected: SamplesReport["outcomes"];
    try {
      unexpected = await reportSamples(session, project, opts, io, style);
    } catch (err) {
      await session.stop();
      throw err instanceof CoordinatorError
        ? new CliError(`samples did not finish: ${err.message}`, ExitCode.Failed)
        : err;
    }
    if (opts.exit === true) {
      await session.stop();
      if (unexpected.length > 0) throw new ExitStatus(ExitCode.Failed);
      return;
    }
  }
  say(style.dim("Ctrl-C to stop."));
  await untilSignal();
  say(style.dim("stopping: draining workers …"));
  await session.stop();
}

/** Runs the samples, prints the report; returns the samples that did not end as expected. */
async function reportSamples(
  session: DevSession,
  project: LoadedProject,
  opts: DevOptions,
  io: CliIo,
  style: Style,
): Promise<SamplesReport["outcomes"]> {
  const out = (line = ""): void => void io.stdout.write(`${line}\n`);
  const say = opts.json === true ? () => undefined : out;
  if (project.samples.length === 0) say(style.yellow(`${project.file} declares no samples`));
  const progress = createProgress(opts.json === true ? { write: () => undefined } : io.stdout);
  const report = await runSamples(session, project.samples, {
    ...(opts.repeat !== undefined ? { repeat: opts.repeat } : {}),
    onProgress: (done, total) => progress.update(`${done}/${total} jobs decided`),
  });
  progress.done(`${report.jobCount} jobs decided in ${formatDuration(report.elapsedMs)} (${rate(report)} jobs/s)`);
  if (opts.json === true) writeJson(io.stdout, jsonReport(report, session));
  else if (opts.repeat === undefined || opts.repeat === 1) out(resultsTable(report, project, style));
  const unexpected = report.outcomes.filter((o) => !o.asExpected);
  for (const o of unexpected)
    say(
      style.red(
        `sample ${o.label} ended ${o.jobs[0]?.job.state}, expected ${project.samples.find((s) => s.label === o.label)?.expect ?? "completed"}`,
      ),
    );
  return unexpected;
}

function banner(
  project: LoadedProject,
  session: DevSession,
  mode: DevMode,
  opts: DevOptions,
  env: CliIo["env"],
  style: Style,
): string {
  const where = relative(process.cwd(), project.dir) || ".";
  const dataDir = opts.dataDir ?? (env["TESSERA_DATA_DIR"] === "" ? undefined : env["TESSERA_DATA_DIR"]);
  const store =
    (env["DATABASE_URL"] ?? "") !== ""
      ? "Postgres (DATABASE_URL)"
      : dataDir !== undefined
        ? `PGlite in ${dataDir}`
        : "jobs in memory (lost on exit)";
  const modeText =
    mode.kind === "embedded"
      ? `embedded: in-process bus, ${store}, components in this process`
      : `process: nats ${session.natsUrl}${mode.nats === "auto" ? " (started for this session)" : ""}, ${store}, components as worker processes scaled 0..max by the KEDA formula`;
  return [
    `${style.bold("tessera dev")} ${project.definition.name} (${where})`,
    `  environment ${environmentText(env)}`,
    `  mode        ${modeText}`,
    `  dashboard   ${style.bold(session.dashboardUrl)}${dashboardNote(opts, env, style)}`,
    `  admin API   ${session.adminUrl}  (OpenAPI at ${session.adminUrl}/openapi.json)`,
    `  components  ${project.components.map((c) => c.name).join(", ")}`,
    ...gatewayLines(session, style),
    `  try         TESSERA_URL=${session.adminUrl} tessera components`,
  ].join("\n");
}

function gatewayLines(session: DevSession, style: Style): string[] {
  const gateway = session.gateway;
  if (gateway === undefined) return [];
  return [
    `  gateway     ${style.bold(gateway.url)}  (webhooks: POST /hooks/<channel>/<tenant>/<account>)`,
    ...(gateway.sampleWebhookUrl !== undefined
      ? [
          `  webhook     curl -H 'content-type: application/json' -d '{"text":"hello"}' ${gateway.sampleWebhookUrl}`,
          `  tail        TESSERA_URL=${session.adminUrl} tessera gateway tail`,
        ]
      : []),
  ];
}

function environmentText(env: CliIo["env"]): string {
  // The coordinator has already refused an unknown name before the banner is shown.
  const environment = parseEnvironment(env[ENVIRONMENT_VARIABLE]);
  const set = (env[ENVIRONMENT_VARIABLE] ?? "") !== "";
  return `${environment}${set ? "" : ` (${ENVIRONMENT_VARIABLE} unset)`}${environment === "local" ? ": no guard rails" : environment === "staging" ? ": guard rails warn" : ": guard rails refuse"}`;
}

function dashboardNote(opts: DevOptions, env: CliIo["env"], style: Style): string {
  if (!isDashboardBuilt()) return style.yellow("  (not built: npm run build -w @tessera/dashboard)");
  if (!isLoopbackHost(opts.host) && (env["TESSERA_ADMIN_TOKEN"] ?? "") === "")
    return style.yellow("  (read-only: not on loopback and no TESSERA_ADMIN_TOKEN)");
  return "";
}

function resultsTable(report: SamplesReport, project: LoadedProject, style: Style): string {
  const rows = report.outcomes.flatMap((o) =>
    o.jobs.map(({ job, depth }) => [
      depth === 0 ? o.label : `${"  ".repeat(depth - 1)}└─ chained`,
      job.component,
      paintState(job.state, style),
      describe(job, project),
      job.durationMs === null ? "" : formatDuration(job.durationMs),
    ]),
  );
  return renderTable(["sample", "component", "state", "result", "took"], rows, style);
}

const RESULT_COLUMN = 90;

function describe(job: JobRecord, project: LoadedProject): string {
  const text = summaryOf(job, project);
  return text.length > RESULT_COLUMN ? `${text.slice(0, RESULT_COLUMN - 1)}…` : text;
}

function summaryOf(job: JobRecord, project: LoadedProject): string {
  if (job.state !== "completed") return formatReason(job);
  const summarize = project.definition.summarize?.[job.component];
  const data = job.output?.data;
  if (summarize !== undefined) {
    try {
      return summarize(data);
    } catch (err) {
      return `(summary failed: ${(err as Error).message})`;
    }
  }
  return JSON.stringify(data ?? job.output?.result_ref ?? null);
}

function rate(report: SamplesReport): string {
  return (report.jobCount / Math.max(report.elapsedMs / 1000, 0.001)).toFixed(0);
}

function jsonReport(report: SamplesReport, session: DevSession): unknown {
  return {
    mode: session.natsUrl === undefined ? "embedded" : "process",
    dashboard: session.dashboardUrl,
    adminUrl: session.adminUrl,
    jobs: report.jobCount,
    elapsedMs: Math.round(report.elapsedMs),
    jobsPerSecond: Number(rate(report)),
    samples: report.outcomes.map((o) => ({
      label: o.label,
      asExpected: o.asExpected,
      jobs: o.jobs.map(({ job, depth }) => ({
        depth,
        jobId: job.jobId,
        component: job.component,
        state: job.state,
        reasonCode: job.reasonCode,
        output: job.output,
      })),
    })),
  };
}

function startFailure(err: unknown, opts: DevOptions, port: number): CliError | GuardRailError {
  if (err instanceof CliError || err instanceof GuardRailError) return err;
  if (err instanceof NatsServerNotInstalledError) return new CliError(err.message, ExitCode.Failed);
  const code = (err as { code?: string }).code;
  if (code === "EADDRINUSE")
    return new CliError(
      `port ${port} on ${opts.host} is in use (another tessera dev?); pass --port 0 for any free port or --port <n>`,
      ExitCode.Usage,
    );
  if (opts.nats !== undefined && opts.nats !== "auto" && isConnectionRefused(err)) {
    return new CliError(`cannot reach NATS at ${opts.nats}: ${(err as Error).message}`, ExitCode.Unreachable, [
      "start one with `nats-server -js`, or use --nats auto",
    ]);
  }
  return new CliError(`tessera dev could not start: ${(err as Error).message}`, ExitCode.Failed);
}

/** nats.js reports a refused connection as an error whose code (or its cause's) is ECONNREFUSED or CONNECTION_REFUSED. */
function isConnectionRefused(err: unknown): boolean {
  for (let e: unknown = err; typeof e === "object" && e !== null; e = (e as { cause?: unknown }).cause) {
    const code = (e as { code?: unknown }).code;
    if (code === "ECONNREFUSED" || code === "CONNECTION_REFUSED") return true;
  }
  return false;
}

function untilSignal(): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      process.off("SIGINT", done);
      process.off("SIGTERM", done);
      resolve();
    };
    process.once("SIGINT", done);
    process.once("SIGTERM", done);
  });
}
