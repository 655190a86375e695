import { createServer } from "node:http";
import { connectJetStreamBus } from "@tessera/bus";
import { ENVIRONMENT_VARIABLE, buildInfo, parseEnvironment } from "@tessera/contract";
import { KubeAccess, LazyProvisioner, startController, type RenderContext } from "@tessera/controller";
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
    .addHelpText(
      "after",
      `
/readyz answers 503 until the first list of Components is done and while NATS cannot be reached.

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
      const port = Number(opts.port);
      if (!Number.isInteger(port) || port < 0 || port > 65_535)
        throw new CliError(
          `--port: expected a port number from 0 to 65535, got ${JSON.stringify(opts.port)}`,
          ExitCode.Usage,
        );

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
    });
}
