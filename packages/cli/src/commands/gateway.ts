import { AdminApiError } from "@tessera/client";
import { ENVIRONMENT_VARIABLE, GuardRailError, parseEnvironment } from "@tessera/contract";
import { keyringSourceFromEnv, Vault } from "@tessera/connectors/storage";
import {
  cachedAccounts,
  createAdapterRegistry,
  githubInbound,
  sealedAccountLoader,
  slackInbound,
  slackOutbound,
  standardWebhooksInbound,
  startGatewayRuntime,
  webhookSender,
} from "@tessera/gateway";
import type { Command } from "commander";
import { pino } from "pino";
import { CliError } from "../cli-error.js";
import type { CliIo } from "../cli-io.js";
import { ExitCode } from "../exit-codes.js";
import { adminClientFor } from "../options/admin-options.js";
import { registerGatewayAdminCommands } from "./gateway-admin.js";

interface RunFlags {
  nats?: string;
  adminUrl?: string;
  host: string;
  port: string;
  send: boolean;
  cacheMs: string;
}

/**
 * `tessera gateway`: runs the channel gateway as its own process against NATS (the inbound server and the
 * sender pool), with accounts from the coordinator's control plane and credentials opened with the vault key.
 * Its subcommands manage tenants and accounts through the admin API.
 */
export function registerGatewayCommands(program: Command, io: CliIo): void {
  const gateway = program
    .command("gateway")
    .description(
      "run the channel gateway (webhooks in, messages out) against NATS; or manage its tenants and accounts (subcommands)",
    )
    .option("--nats <url>", "the NATS server with JetStream (env NATS_URL)", io.env["NATS_URL"])
    // Not --url: commander would take a subcommand's --url (`tessera gateway tail --url …`) for this one.
    .option("--admin-url <url>", "the coordinator's admin API, where accounts come from (env TESSERA_URL)")
    .option("--host <address>", "address of the webhook server", io.env["TESSERA_GATEWAY_HOST"] ?? "127.0.0.1")
    .option("--port <port>", "port of the webhook server", io.env["TESSERA_GATEWAY_PORT"] ?? "7500")
    .option("--no-send", "inbound only: do not run the sender pool")
    .option(
      "--cache-ms <ms>",
      "how long an account lookup is reused (changes announced on NATS drop it at once)",
      "5000",
    )
    .addHelpText(
      "after",
      `
Credentials are sealed by the coordinator's vault; the gateway opens them with the same key
(TESSERA_VAULT_KEY_FILE or TESSERA_VAULT_KEYS).

Examples:
  $ tessera gateway --nats nats://127.0.0.1:4222 --admin-url http://127.0.0.1:7400
  $ tessera gateway accounts
  $ tessera gateway install slack/acme/T123 --setting appId=A123
  $ SLACK_SIGNING=… SLACK_BOT=… tessera gateway rotate slack/acme/T123 --signing-secret-env SLACK_SIGNING --credential botToken=SLACK_BOT
  $ tessera gateway tail --tenant acme`,
    )
    .action((flags: RunFlags) => runGateway(flags, io));
  registerGatewayAdminCommands(gateway, io);
}

async function runGateway(flags: RunFlags, io: CliIo): Promise<void> {
  if (flags.nats === undefined || flags.nats === "")
    throw new CliError("--nats (or NATS_URL) is required", ExitCode.Usage);
  const port = Number(flags.port);
  if (!Number.isInteger(port) || port < 0 || port > 65_535)
    throw new CliError(
      `--port: expected a port number from 0 to 65535, got ${JSON.stringify(flags.port)}`,
      ExitCode.Usage,
    );
  const cacheMs = Number(flags.cacheMs);
  if (!Number.isInteger(cacheMs) || cacheMs < 0)
    throw new CliError(
      `--cache-ms: expected a whole number of milliseconds, got ${JSON.stringify(flags.cacheMs)}`,
      ExitCode.Usage,
    );
  const log = pino({ name: "tessera-gateway", level: io.env["LOG_LEVEL"] ?? "info" }, pino.destination(2));
  const keys = keyringSourceFromEnv(io.env);
  const vault = keys === undefined ? undefined : await Vault.create(keys);
  if (vault === undefined)
    log.warn("no vault key: accounts with credentials cannot be served (TESSERA_VAULT_KEY_FILE)");
  const admin = adminClientFor({ ...(flags.adminUrl !== undefined ? { url: flags.adminUrl } : {}) }, io);
  const loader = sealedAccountLoader(
    {
      account: (c, t, a) =>
        admin.gatewayAccount(c, t, a).catch((err: unknown) => {
          if (err instanceof AdminApiError && err.status === 404) return undefined;
          throw err;
        }),
      sealed: (c, t, a) => admin.gatewaySealed(c, t, a),
    },
    vault,
  );
  const runtime = await startGatewayRuntime({
    natsUrl: flags.nats,
    registry: createAdapterRegistry({
      inbound: [standardWebhooksInbound(), githubInbound(), slackInbound()],
      outbound: [slackOutbound(), webhookSender()],
    }),
    accounts: (nc) => cachedAccounts(loader, { ttlMs: cacheMs, nats: nc }),
    environment: parseEnvironment(io.env[ENVIRONMENT_VARIABLE]),
    host: flags.host,
    port,
    send: flags.send,
    onWarning: (finding) => log.warn({ rule: finding.rule }, finding.message),
    onPublishFailure: (err) => log.warn({ err }, "an inbound message was not stored; answered 503"),
  }).catch((err: unknown) => {
    throw err instanceof GuardRailError ? new CliError(err.message, ExitCode.Usage) : err;
  });
  io.stdout.write(
    `tessera gateway: webhooks on ${runtime.url}/hooks/<channel>/<tenant>/<account>, NATS ${flags.nats}\n`,
  );
  await new Promise<void>((resolve) => {
    const done = (): void => {
      process.off("SIGINT", done);
      process.off("SIGTERM", done);
      resolve();
    };
    process.once("SIGINT", done);
    process.once("SIGTERM", done);
  });
  await runtime.stop();
}
