import type { GatewayAccountView, PutGatewayAccountBody } from "@tessera/client";
import type { Message } from "@tessera/contract";
import type { Command } from "commander";
import { usageError } from "../cli-error.js";
import type { CliIo } from "../cli-io.js";
import { adminClientFor, withAdminOptions, type AdminOptions } from "../options/admin-options.js";
import { collect, metadataEntry, positiveInteger } from "../options/parsers.js";
import { formatAge } from "../output/format.js";
import { installThroughOAuth } from "./gateway-oauth-install.js";
import { writeJson } from "../output/json.js";
import { styleFor } from "../output/style.js";
import { renderTable } from "../output/table.js";

/*
 * `tessera gateway tenants|accounts|install|disable|enable|limit|rotate|remove|health|tail`: the gateway's
 * control plane through the admin API (docs/gateway.md#control-plane). Secrets are read from environment
 * variables named on the command line, never from the command line itself (it shows in `ps` and shell history).
 */

type Key = { channelType: string; tenant: string; account: string };

function parseAccountId(id: string): Key {
  const parts = id.split("/");
  if (parts.length !== 3 || parts.some((p) => p === ""))
    throw usageError(`"${id}" is not an account id: give <channel>/<tenant>/<account>, e.g. slack/acme/T123`);
  const [channelType, tenant, account] = parts as [string, string, string];
  return { channelType, tenant, account };
}

function accountRows(items: readonly GatewayAccountView[]): string[][] {
  return items.map((a) => [
    a.id,
    a.disabled ? "disabled" : "enabled",
    a.rateLimit === null ? "default" : `${a.rateLimit.perSecond}/s burst ${a.rateLimit.burst}`,
    a.credentials.keyId === null && a.credentials.connection === null
      ? "none"
      : `${a.credentials.signingSecrets} signing, ${a.credentials.names.join(" ") || "no tokens"}` +
        (a.credentials.keyId === null ? "" : ` (${a.credentials.keyId})`) +
        (a.credentials.connection === null
          ? ""
          : ` ${a.credentials.connection.credential} from ${a.credentials.connection.id}`),
    a.credentials.rotatedAt === null ? "" : `${formatAge(a.credentials.rotatedAt)} ago`,
    a.webhookUrl ?? a.webhookPath,
  ]);
}

function printAccount(io: CliIo, flags: AdminOptions, account: GatewayAccountView, said: string): void {
  if (flags.json === true) writeJson(io.stdout, account);
  else io.stdout.write(`${said} ${account.id}; webhook ${account.webhookUrl ?? account.webhookPath}\n`);
}

function secretFromEnv(io: CliIo, name: string, what: string): string {
  const value = io.env[name];
  if (value === undefined || value === "") throw usageError(`${what}: environment variable ${name} is unset or empty`);
  return value;
}

/** `tessera gateway tail`: one line per stored inbound message, or NDJSON with --json. */
export function formatTailLine(m: Message): string {
  const from = m.sender.name ?? m.sender.id;
  return `${m.received_at} ${m.channel_type}/${m.scope.tenant}/${m.scope.account} ${m.scope.conversation} ${from}: ${m.text}`;
}

export function registerGatewayAdminCommands(gateway: Command, io: CliIo): void {
  withAdminOptions(gateway.command("tenants").description("tenants with their account counts")).action(
    async (flags: AdminOptions) => {
      const list = await adminClientFor(flags, io).gatewayTenants();
      if (flags.json === true) return writeJson(io.stdout, list);
      const style = styleFor(io.stdout, io.env);
      io.stdout.write(
        list.items.length === 0
          ? "no tenants\n"
          : renderTable(
              ["tenant", "accounts", "disabled", "channels"],
              list.items.map((t) => [t.tenant, String(t.accounts), String(t.disabled), t.channelTypes.join(" ")]),
              style,
            ),
      );
    },
  );

  withAdminOptions(
    gateway
      .command("accounts")
      .description("accounts: state, rate limit, credential metadata (never a secret), webhook URL")
      .option("--tenant <id>", "only this tenant's accounts")
      .option("--channel <slug>", "only this channel type's accounts"),
  ).action(async (flags: AdminOptions & { tenant?: string; channel?: string }) => {
    const list = await adminClientFor(flags, io).gatewayAccounts({
      ...(flags.tenant !== undefined ? { tenant: flags.tenant } : {}),
      ...(flags.channel !== undefined ? { channelType: flags.channel } : {}),
    });
    if (flags.json === true) return writeJson(io.stdout, list);
    const style = styleFor(io.stdout, io.env);
    io.stdout.write(
      list.items.length === 0
        ? "no accounts\n"
        : renderTable(
            ["account", "state", "rate limit", "credentials", "rotated", "webhook"],
            accountRows(list.items),
            style,
          ),
    );
  });

  withAdminOptions(
    gateway
      .command("install")
      .description("install an account (or change its settings); --oauth: through a connector's OAuth consent")
      .argument("<account>", "<channel>/<tenant>/<account>")
      .option("--setting <key=value>", "an adapter setting, not secret (repeatable): appId=…, url=…", metadataEntry)
      .option("--oauth <connector>", "install through this connector: prints the consent URL, waits for the callback")
      .option("--no-wait", "with --oauth: print the URL and return")
      .option("--timeout <seconds>", "with --oauth: how long to wait for the consent", positiveInteger(3600), 600)
      .option("--poll-ms <ms>", "with --oauth: how often to look", positiveInteger(60_000), 1000),
  ).action(
    async (
      id: string,
      flags: AdminOptions & {
        setting?: Record<string, string>;
        oauth?: string;
        wait: boolean;
        timeout: number;
        pollMs: number;
      },
    ) => {
      const k = parseAccountId(id);
      const client = adminClientFor(flags, io);
      const body: PutGatewayAccountBody = flags.setting !== undefined ? { settings: flags.setting } : {};
      if (flags.oauth === undefined)
        return printAccount(
          io,
          flags,
          await client.putGatewayAccount(k.channelType, k.tenant, k.account, body),
          "installed",
        );
      // Settings are written once the account exists: a consent refused must leave no account behind.
      if (flags.setting !== undefined && !flags.wait)
        throw usageError("--setting with --oauth needs the wait (drop --no-wait)");
      const installed = await installThroughOAuth(
        client,
        k,
        {
          connector: flags.oauth,
          wait: flags.wait,
          timeoutMs: flags.timeout * 1000,
          pollMs: flags.pollMs,
          json: flags.json === true,
        },
        io,
      );
      if (installed === undefined) return;
      const account =
        flags.setting !== undefined
          ? await client.putGatewayAccount(k.channelType, k.tenant, k.account, body)
          : installed;
      printAccount(io, flags, account, `installed through ${flags.oauth}:`);
    },
  );

  for (const [name, disabled] of [
    ["disable", true],
    ["enable", false],
  ] as const)
    withAdminOptions(
      gateway
        .command(name)
        .description(
          disabled ? "disable an account: its webhooks are answered 403, nothing is sent" : "enable an account again",
        )
        .argument("<account>", "<channel>/<tenant>/<account>"),
    ).action(async (id: string, flags: AdminOptions) => {
      const k = parseAccountId(id);
      const client = adminClientFor(flags, io);
      await client.gatewayAccount(k.channelType, k.tenant, k.account); // 404 rather than installing by accident
      printAccount(
        io,
        flags,
        await client.putGatewayAccount(k.channelType, k.tenant, k.account, { disabled }),
        `${name}d`,
      );
    });

  withAdminOptions(
    gateway
      .command("limit")
      .description("set an account's own outbound rate limit, or --default for the adapter's")
      .argument("<account>", "<channel>/<tenant>/<account>")
      .option("--per-second <n>", "sends per second", Number)
      .option("--burst <n>", "sends at once after a quiet spell", positiveInteger(100_000))
      .option("--default", "back to the adapter's default limit"),
  ).action(async (id: string, flags: AdminOptions & { perSecond?: number; burst?: number; default?: boolean }) => {
    const k = parseAccountId(id);
    if (flags.default !== true && (flags.perSecond === undefined || flags.burst === undefined))
      throw usageError("give --per-second and --burst, or --default");
    const client = adminClientFor(flags, io);
    await client.gatewayAccount(k.channelType, k.tenant, k.account);
    const rateLimit = flags.default === true ? null : { perSecond: flags.perSecond!, burst: flags.burst! };
    printAccount(
      io,
      flags,
      await client.putGatewayAccount(k.channelType, k.tenant, k.account, { rateLimit }),
      "limited",
    );
  });

  withAdminOptions(
    gateway
      .command("rotate")
      .description(
        "set or rotate an account's credentials, read from environment variables (sealed by the coordinator's vault)",
      )
      .argument("<account>", "<channel>/<tenant>/<account>")
      .option(
        "--signing-secret-env <VAR>",
        "a signing secret from this environment variable (repeatable, newest first)",
        collect,
      )
      .option("--keep-previous", "keep the current signing secrets after the new ones while the platform switches")
      .option(
        "--credential <name=VAR>",
        "an outbound credential from an environment variable (repeatable): botToken=SLACK_BOT_TOKEN",
        metadataEntry,
      ),
  ).action(
    async (
      id: string,
      flags: AdminOptions & {
        signingSecretEnv?: string[];
        keepPrevious?: boolean;
        credential?: Record<string, string>;
      },
    ) => {
      const k = parseAccountId(id);
      if (flags.signingSecretEnv === undefined && flags.credential === undefined)
        throw usageError("give --signing-secret-env and/or --credential");
      const body = {
        ...(flags.signingSecretEnv !== undefined
          ? { signingSecrets: flags.signingSecretEnv.map((v) => secretFromEnv(io, v, "--signing-secret-env")) }
          : {}),
        ...(flags.keepPrevious === true ? { keepPrevious: true } : {}),
        ...(flags.credential !== undefined
          ? {
              credentials: Object.fromEntries(
                Object.entries(flags.credential).map(([name, v]) => [
                  name,
                  secretFromEnv(io, v, `--credential ${name}`),
                ]),
              ),
            }
          : {}),
      };
      printAccount(
        io,
        flags,
        await adminClientFor(flags, io).rotateGatewayCredentials(k.channelType, k.tenant, k.account, body),
        "rotated credentials of",
      );
    },
  );

  withAdminOptions(
    gateway
      .command("remove")
      .description("uninstall an account and drop its credentials")
      .argument("<account>", "<channel>/<tenant>/<account>"),
  ).action(async (id: string, flags: AdminOptions) => {
    const k = parseAccountId(id);
    const outcome = await adminClientFor(flags, io).deleteGatewayAccount(k.channelType, k.tenant, k.account);
    if (flags.json === true) writeJson(io.stdout, outcome);
    else io.stdout.write(`removed ${id}\n`);
  });

  withAdminOptions(
    gateway.command("health").description("the gateway's streams: messages, last stored, consumers"),
  ).action(async (flags: AdminOptions) => {
    const health = await adminClientFor(flags, io).gatewayHealth();
    if (flags.json === true) return writeJson(io.stdout, health);
    const style = styleFor(io.stdout, io.env);
    io.stdout.write(`mode ${health.mode}${health.error !== null ? ` (error: ${health.error})` : ""}\n`);
    if (health.streams.length > 0)
      io.stdout.write(
        renderTable(
          ["stream", "messages", "bytes", "last seq", "last stored", "consumers"],
          health.streams.map((s) => [
            s.present ? s.name : `${s.name} (missing)`,
            String(s.messages),
            String(s.bytes),
            String(s.lastSeq),
            s.lastAt === null ? "" : `${formatAge(s.lastAt)} ago`,
            String(s.consumers),
          ]),
          style,
        ),
      );
  });

  withAdminOptions(
    gateway
      .command("tail")
      .description("follow inbound messages as the gateway stores them")
      .option("--tenant <id>", "only this tenant's messages")
      .option("--channel <slug>", "only this channel type's messages")
      .option("--count <n>", "stop after n messages", positiveInteger(1_000_000)),
  ).action(async (flags: AdminOptions & { tenant?: string; channel?: string; count?: number }) => {
    const stream = await adminClientFor(flags, io).gatewayTail({
      ...(flags.tenant !== undefined ? { tenant: flags.tenant } : {}),
      ...(flags.channel !== undefined ? { channelType: flags.channel } : {}),
    });
    io.stderr.write("following inbound messages (Ctrl-C to stop)\n");
    const stop = (): void => stream.close();
    process.once("SIGINT", stop);
    let seen = 0;
    try {
      for await (const message of stream) {
        io.stdout.write(flags.json === true ? `${JSON.stringify(message)}\n` : `${formatTailLine(message)}\n`);
        if (flags.count !== undefined && ++seen >= flags.count) break;
      }
    } finally {
      process.off("SIGINT", stop);
      stream.close();
    }
  });
}
