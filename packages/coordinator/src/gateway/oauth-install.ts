import { gatewayAccountId } from "@tessera/client/schemas";
import { connectionId, type GatewayInstall } from "@tessera/client/schemas";
import type { ConnectionService } from "@tessera/connectors";
import { CoordinatorError } from "../errors.js";
import type { GatewayAccountKey, GatewayConnectionRef } from "./account-store.js";

/*
 * Installing a gateway account through the connectors' OAuth flow (decision 0042, addendum). The connection
 * is an ordinary one of the connection store, under a user id that names the account, so the callback (which
 * only learns provider and user from the state) knows which account to install; the account is written only
 * once the callback succeeded, so a refused or replayed callback leaves nothing half-installed.
 */

const PREFIX = "gateway:";

/** Which credential an OAuth access token fills, by channel type: the name its outbound adapter reads. */
const TOKEN_CREDENTIAL: Readonly<Record<string, string>> = { slack: "botToken" };
const DEFAULT_TOKEN_CREDENTIAL = "accessToken";

export const tokenCredentialFor = (channelType: string): string =>
  TOKEN_CREDENTIAL[channelType] ?? DEFAULT_TOKEN_CREDENTIAL;

/** The connection's user id for an account: `gateway:<channel>/<tenant>/<account>`. */
export const installUserId = (key: GatewayAccountKey): string =>
  `${PREFIX}${gatewayAccountId(key.channelType, key.tenant, key.account)}`;

/** The account an install's connection belongs to; undefined for every other connection. */
export function accountOfInstall(userId: string): GatewayAccountKey | undefined {
  if (!userId.startsWith(PREFIX)) return undefined;
  // Channel types and scope ids hold no slash (their patterns), so three parts are the whole id.
  const parts = userId.slice(PREFIX.length).split("/");
  if (parts.length !== 3 || parts.some((p) => p === "")) return undefined;
  const [channelType, tenant, account] = parts as [string, string, string];
  return { channelType, tenant, account };
}

/** Begins the provider's consent for the account's connection; nothing of the account is written yet. */
export async function beginInstall(
  service: ConnectionService | undefined,
  key: GatewayAccountKey,
  connector: string,
  now: number,
): Promise<GatewayInstall> {
  if (service === undefined)
    throw new CoordinatorError(
      "not_found",
      "this coordinator has no connectors configured (createCoordinator({ connectors }), see docs/connectors.md)",
    );
  const known = service.providers();
  if (!known.includes(connector)) {
    const list = known.length === 0 ? "none are configured" : `configured: ${known.join(", ")}`;
    throw new CoordinatorError("invalid_request", `connector: no connector "${connector}" (${list})`, [
      {
        path: "connector",
        expected: `one of the configured connectors (${list})`,
        received: JSON.stringify(connector),
      },
    ]);
  }
  const userId = installUserId(key);
  const { redirectUrl } = await service.begin(connector, userId);
  return {
    account: gatewayAccountId(key.channelType, key.tenant, key.account),
    connection: connectionId(connector, userId),
    authorizationUrl: redirectUrl,
    startedAt: new Date(now).toISOString(),
  };
}

/** The reference an account keeps to the connection its callback completed. */
export function connectionRefOf(key: GatewayAccountKey, provider: string, now: number): GatewayConnectionRef {
  return { provider, userId: installUserId(key), credential: tokenCredentialFor(key.channelType), installedAt: now };
}
