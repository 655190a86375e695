import { randomUUID } from "node:crypto";
import { createServer } from "node:http";
import { hostname } from "node:os";
import { connectJetStreamBus, startTracing, TracingConfigError } from "@tessera/bus";
import { ENVIRONMENT_VARIABLE, buildInfo, parseEnvironment } from "@tessera/contract";
import {
  DEFAULT_INSTALL_NAMESPACE,
  DEFAULT_LEADER_ELECTION_TIMING,
  KubeAccess,
  LazyProvisioner,
  startController,
  type RenderContext,
} from "@tessera/controller";
import * as k8s from "@kubernetes/client-node";
import type { Command } from "commander";
import type { CliIo } from "../cli-io.js";
import { CliError } from "../cli-error.js";
import { ExitCode } from "../exit-codes.js";
import { metadataEntry, positiveInteger } from "../options/parsers.js";

interface ControllerOptions {
  nats?: string;
  natsMonitoring?: string;
  natsNamespace: string;
  natsLabel?: Record<string, string>;
  kubeconfig?: string;
  port: string;
  concurrency: number;
  resyncSeconds: number;
  leaderElect: boolean;
  leaseNamespace: string;
  leaseDurationSeconds: number;
  renewDeadlineSeconds: number;
  retryPeriodSeconds: number;
}

export function registerControllerCommand(program: Command, io: CliIo): void {
  program
    .command("controller")
    .description(
      "run the Kubernetes controller: reconcile Component resources into Deployments, KEDA ScaledObjects, NetworkPolicies and JetStream streams/consumers",
    )
    .option("--nats <url>", "NATS server the controller provisions streams on and workers connect to (env NATS_URL)")
    .option(
      "--nats-monitoring <host:port>",
      "NATS monitoring endpoint for KEDA, host:port (env TESSERA_NATS_MONITORING)",
    )
    .option("--nats-namespace <ns>", "namespace of the NATS pods", io.env["TESSERA_NATS_NAMESPACE"] ?? "nats")
    .option(
      "--nats-label <key=value>",
      "a label of the NATS pods (repeatable; default app.kubernetes.io/name=nats)",
      metadataEntry,
    )
    .option(
      "--kubeconfig <file>",
      "kubeconfig to use (default: in-cluster service account, else KUBECONFIG / ~/.kube/config)",
    )
    .option("--port <port>", "port of /healthz, /readyz and /metrics", io.env["TESSERA_HTTP_PORT"] ?? "8080")
    .option("--concurrency <n>", "Components reconciled at once", positiveInteger(64), 4)
    .option("--resync-seconds <n>", "reconcile every Component again this often", positiveInteger(86_400), 300)
    .option("--no-leader-elect", "reconcile without taking the Lease (only when exactly one controller runs)")
    .option(
      "--lease-namespace <ns>",
      "namespace of the leader-election Lease (env POD_NAMESPACE)",
      io.env["POD_NAMESPACE"] ?? DEFAULT_INSTALL_NAMESPACE,
    )
    .option(
      "--lease-duration-seconds <n>",
      "a leader that stopped renewing is replaced after this long",
      positiveInteger(3600),
      DEFAULT_LEADER_ELECTION_TIMING.leaseDurationMs / 1000,
    )
    .option(
      "--renew-deadline-seconds <n>",
      "the leader stops reconciling when it could not renew for this long (< lease duration)",
      positiveInteger(3600),
      DEFAULT_LEADER_ELECTION_TIMING.renewDeadlineMs / 1000,
    )
    .option(
      "--retry-period-seconds <n>",
      "between attempts to take or renew the Lease (< renew deadline)",
      positiveInteger(3600),
      DEFAULT_LEADER_ELECTION_TIMING.retryPeriodMs / 1000,
    )
    .addHelpText(
      "after",
      `
/readyz answers 503 until the first list of Components is done and while NATS cannot be reached.
Several replicas may run: only the holder of the Lease tessera-controller (in --lease-namespace) reconciles;
the others stay ready and take over once it stops renewing.

Example:
  $ tessera controller --nats nats://nats.nats.svc:4222 --nats-monitoring nats.nats.svc:8222`,
    )
    .action(async (opts: ControllerOptions) => {
      const natsUrl = opts.nats ?? io.env["NATS_URL"];
      const monitoring = opts.natsMonitoring ?? io.env["TESSERA_NATS_MONITORING"];
      if (natsUrl === undefined || natsUrl === "")
        throw new CliError("--nats (or NATS_URL) is required: the NATS server to provision streams on", ExitCode.Usage);
      if (monitoring === undefined || monitoring === "")
        throw new CliError(
          "--nats-monitoring (or TESSERA_NATS_MONITORING) is required: host:port of the NATS monitoring endpoint KEDA reads",
          ExitCode.Usage,
        );
      if (
        opts.leaderElect &&
        !(opts.retryPeriodSeconds < opts.renewDeadlineSeconds && opts.renewDeadlineSeconds < opts.leaseDurationSeconds)
      )
        throw new CliError(
          `--retry-period-seconds (${opts.retryPeriodSeconds}) < --renew-deadline-seconds (${opts.renewDeadlineSeconds}) < --lease-duration-seconds (${opts.leaseDurationSeconds}) must hold`,
          ExitCode.Usage,
        );
      const port = Number(opts.port);
      if (!Number.isInteger(port) || port < 0 || port > 65_535)
        throw new CliError(
          `--port: expected a port number from 0 to 65535, got ${JSON.stringify(opts.port)}`,
          ExitCode.Usage,
        );

      const tracing = await startTracing({ serviceName: "tessera-controller", env: io.env }).catch((err: unknown) => {
        throw err instanceof TracingConfigError ? new CliError(err.message, ExitCode.Usage) : err;
      });
      const kubeConfig = new k8s.KubeConfig();
      if (opts.kubeconfig !== undefined) kubeConfig.loadFromFile(opts.kubeconfig);
      else kubeConfig.loadFromDefault();
      const build = buildInfo(io.env);
      let environment;
      try {
        environment = parseEnvironment(io.env[ENVIRONMENT_VARIABLE]);
      } catch (err) {
        throw new CliError((err as Error).message, ExitCode.Usage);
      }
      const render: RenderContext = {
        build,
        environment,
        nats: {
          url: natsUrl,
          monitoringEndpoint: monitoring,
          namespace: opts.natsNamespace,
          podLabels: opts.natsLabel ?? { "app.kubernetes.io/name": "nats" },
        },
      };
      const log = (message: string, fields: Record<string, unknown> = {}): void =>
        void io.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), msg: message, ...fields })}\n`);
      const streams = new LazyProvisioner(() =>
        connectJetStreamBus({ servers: natsUrl, name: "tessera-controller", provision: true }),
      );
      if (!(await streams.warmUp())) log("NATS is not reachable yet; not ready until it is", { nats: natsUrl });
      const controller = startController({
        kube: new KubeAccess(kubeConfig),
        streams,
        render,
        concurrency: opts.concurrency,
        resyncMs: opts.resyncSeconds * 1000,
        log,
        ...(opts.leaderElect
          ? {
              leaderElection: {
                namespace: opts.leaseNamespace,
                // A restarted pod keeps its name; the suffix makes it a new candidate, not the old holder.
                identity: `${io.env["POD_NAME"] ?? hostname()}_${randomUUID().slice(0, 8)}`,
                leaseDurationMs: opts.leaseDurationSeconds * 1000,
                renewDeadlineMs: opts.renewDeadlineSeconds * 1000,
                retryPeriodMs: opts.retryPeriodSeconds * 1000,
              },
            }
          : {}),
      });

      const health = createServer((req, res) => {
        const path = (req.url ?? "").split("?")[0];
        if (path === "/healthz")
          return void res
            .writeHead(200, { "content-type": "application/json" })
            .end(`${JSON.stringify({ status: "ok", ...build })}\n`);
        if (path === "/readyz") {
          const ready = controller.ready();
          return void res
            .writeHead(ready ? 200 : 503, { "content-type": "text/plain" })
            .end(
              ready
                ? "ready\n"
                : streams.isConnected()
                  ? "not ready: Components not listed yet\n"
                  : "not ready: NATS unreachable\n",
            );
        }
        if (path === "/metrics") {
          const registry = controller.metrics.registry;
          return void registry.metrics().then(
            (text) => res.writeHead(200, { "content-type": registry.contentType }).end(text),
            (err: unknown) =>
              res.writeHead(500, { "content-type": "text/plain" }).end(`metrics unavailable: ${String(err)}\n`),
          );
        }
        res.writeHead(404).end();
      });
      await new Promise<void>((resolve) => health.listen(port, "0.0.0.0", resolve));
      const address = health.address();
      log("controller started", {
        health: typeof address === "object" && address !== null ? address.port : port,
        nats: natsUrl,
      });
      // Keep retrying NATS in the background so readiness recovers without a reconcile having to fail first.
      const natsProbe = setInterval(() => void (streams.isConnected() ? undefined : streams.warmUp()), 2_000);

      await new Promise<void>((resolve) => {
        process.once("SIGTERM", resolve);
        process.once("SIGINT", resolve);
      });
      clearInterval(natsProbe);
      log("stopping");
      await controller.stop();
      await new Promise((r) => health.close(r));
      await streams.close();
      await tracing?.shutdown();
    });
}
