import { parseConnectionId, type Connection, type ConnectionState } from "@tessera/client";
import { usageError } from "../cli-error.js";
import type { CliIo, RegisterCommands } from "../cli-io.js";
import { adminClientFor, withAdminOptions, type AdminOptions } from "../options/admin-options.js";
import { formatAge } from "../output/format.js";
import { writeJson } from "../output/json.js";
import { styleFor, type Style } from "../output/style.js";
import { renderTable } from "../output/table.js";

interface ListFlags extends AdminOptions {
  provider?: string;
  user?: string;
  state?: ConnectionState;
}

interface ConnectFlags extends AdminOptions {
  user: string;
}

const STATES: readonly ConnectionState[] = ["connected", "needs_reauth"];

function paintConnectionState(state: ConnectionState, style: Style): string {
  return state === "connected" ? style.green(state) : style.red(state);
}

/** When a token expires, as the table shows it: "in 59m", "expired 3m ago", "never". */
function formatExpiry(expiresAt: string | null, now = new Date()): string {
  if (expiresAt === null) return "never";
  const at = Date.parse(expiresAt);
  return at > now.getTime()
    ? `in ${formatAge(now.toISOString(), new Date(at))}`
    : `expired ${formatAge(expiresAt, now)} ago`;
}

function connectionRows(items: readonly Connection[], style: Style): string[][] {
  return items.map((c) => [
    c.id,
    paintConnectionState(c.state, style),
    c.scopes.join(" "),
    formatExpiry(c.expiresAt),
    c.refreshedAt === null ? "" : `${formatAge(c.refreshedAt)} ago`,
    c.lastError ?? "",
  ]);
}

async function listAction(flags: ListFlags, io: CliIo): Promise<void> {
  if (flags.state !== undefined && !STATES.includes(flags.state))
    throw usageError(`--state must be one of ${STATES.join(", ")}, not "${flags.state}"`);
  const client = adminClientFor(flags, io);
  const list = await client.connections({
    ...(flags.provider !== undefined ? { provider: flags.provider } : {}),
    ...(flags.user !== undefined ? { userId: flags.user } : {}),
    ...(flags.state !== undefined ? { state: flags.state } : {}),
  });
  if (flags.json === true) {
    writeJson(io.stdout, list);
    return;
  }
  if (!list.configured) {
    io.stdout.write(`the coordinator at ${client.displayUrl} has no connectors configured\n`);
    return;
  }
  const style = styleFor(io.stdout, io.env);
  if (list.items.length === 0) io.stdout.write("no connections\n");
  else
    io.stdout.write(
      renderTable(
        ["id", "state", "scopes", "expires", "refreshed", "last error"],
        connectionRows(list.items, style),
        style,
      ),
    );
  io.stderr.write(`providers: ${list.providers.join(", ")}\n`);
}

async function connectAction(provider: string, flags: ConnectFlags, io: CliIo): Promise<void> {
  const client = adminClientFor(flags, io);
  const begun = await client.beginConnection(provider, flags.user);
  if (flags.json === true) {
    writeJson(io.stdout, begun);
    return;
  }
  io.stdout.write(`${begun.redirectUrl}\n`);
  io.stderr.write(
    `open the URL above as ${flags.user} to connect to ${provider} (good once, for 10 minutes); then check with: tessera connections list --user ${flags.user}\n`,
  );
}

async function disconnectAction(id: string, flags: AdminOptions, io: CliIo): Promise<void> {
  const named = parseConnectionId(id);
  if (named === undefined)
    throw usageError(
      `"${id}" is not a connection id: give <provider>:<user>, as \`tessera connections list\` shows it`,
    );
  const outcome = await adminClientFor(flags, io).disconnect(named.provider, named.userId);
  if (flags.json === true) {
    writeJson(io.stdout, outcome);
    return;
  }
  const atProvider = outcome.providerRevoked
    ? "revoked at the provider"
    : `not revoked at the provider${outcome.providerError !== null ? ` (${outcome.providerError})` : ""}`;
  io.stdout.write(`disconnected ${id}: ${atProvider}; its tokens are wiped here\n`);
}

/** `tessera connections list|connect|disconnect`: users' connections to providers, through the admin API. */
export const registerConnectionsCommands: RegisterCommands = (program, io) => {
  const connections = program
    .command("connections")
    .description("list, connect and disconnect users' connections to providers (OAuth)")
    .addHelpText(
      "after",
      "\nExamples:\n  $ tessera connections list\n  $ tessera connections connect todoist --user alice\n  $ tessera connections disconnect todoist:alice",
    );

  withAdminOptions(
    connections
      .command("list")
      .description("list connections: state, scopes, token expiry, last refresh and last error (never a token)")
      .option("--provider <id>", "only this provider's connections")
      .option("--user <id>", "only this user's connections")
      .option("--state <state>", `only connections in this state (${STATES.join(", ")})`),
  ).action((flags: ListFlags) => listAction(flags, io));

  withAdminOptions(
    connections
      .command("connect")
      .description("begin connecting a user to a provider: prints the URL where the user gives consent")
      .argument("<provider>", "a configured provider (see `tessera connections list`)")
      .requiredOption("--user <id>", "the platform user who is connecting"),
  )
    .addHelpText("after", "\nExit 4 if the provider is not configured.")
    .action((provider: string, flags: ConnectFlags) => connectAction(provider, flags, io));

  withAdminOptions(
    connections
      .command("disconnect")
      .description("revoke a connection at the provider and wipe its tokens")
      .argument("<id>", "the connection, <provider>:<user>"),
  )
    .addHelpText("after", "\nExit 4 if there is no such connection.")
    .action((id: string, flags: AdminOptions) => disconnectAction(id, flags, io));
};
