import { setTimeout as sleep } from "node:timers/promises";
import { AdminApiError, type AdminClient, type GatewayAccountView } from "@tessera/client";
import { CliError } from "../cli-error.js";
import type { CliIo } from "../cli-io.js";
import { ExitCode } from "../exit-codes.js";

type Key = { channelType: string; tenant: string; account: string };

export interface OAuthInstallOptions {
  connector: string;
  /** false: print the URL and return (`--no-wait`). */
  wait: boolean;
  timeoutMs: number;
  pollMs: number;
  json: boolean;
}

/**
 * `tessera gateway install <account> --oauth <connector>`: begins the install, prints the consent URL and
 * waits until the callback has installed the account. A refused consent or a spent state leaves no account
 * behind and cannot be seen from here, so the wait ends with the timeout and says what to check.
 */
export async function installThroughOAuth(
  client: AdminClient,
  key: Key,
  o: OAuthInstallOptions,
  io: CliIo,
): Promise<GatewayAccountView | undefined> {
  const begun = await client.installGatewayAccount(key.channelType, key.tenant, key.account, {
    connector: o.connector,
  });
  if (o.json && !o.wait) {
    io.stdout.write(`${JSON.stringify(begun)}\n`);
    return undefined;
  }
  const say = o.json ? io.stderr : io.stdout;
  say.write(`open this URL to install ${begun.account} through ${o.connector}:\n${begun.authorizationUrl}\n`);
  if (!o.wait) return undefined;
  const started = Date.parse(begun.startedAt);
  const deadline = Date.now() + o.timeoutMs;
  let lastSaid = Date.now();
  for (;;) {
    const account = await current(client, key);
    const installed = account?.credentials.connection;
    if (installed != null && installed.id === begun.connection && Date.parse(installed.installedAt) >= started)
      return account;
    if (Date.now() >= deadline)
      throw new CliError(
        `${begun.account} was not installed within ${Math.round(o.timeoutMs / 1000)} s`,
        ExitCode.Failed,
        ["the consent may have been refused, or the link opened twice: begin again (nothing was installed)"],
      );
    if (Date.now() - lastSaid >= 10_000) {
      io.stderr.write(`waiting for the consent (${Math.round((deadline - Date.now()) / 1000)} s left)\n`);
      lastSaid = Date.now();
    }
    await sleep(o.pollMs);
  }
}

async function current(client: AdminClient, key: Key): Promise<GatewayAccountView | undefined> {
  try {
    return await client.gatewayAccount(key.channelType, key.tenant, key.account);
  } catch (err) {
    if (err instanceof AdminApiError && err.status === 404) return undefined;
    throw err;
  }
}
