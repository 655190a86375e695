import { Type, type Static } from "@sinclair/typebox";
import type { SealedBox } from "../schemas.js";
import type { SealContext, Vault } from "./vault.js";

/*
 * A gateway account's credentials in the vault (decision 0042): its inbound signing secrets and its outbound
 * credentials in one box, bound to the account, sealed by the coordinator and opened by the gateway process
 * that holds the same vault key. One definition of the box and its context, used on both sides.
 */

export const GatewaySecretsSchema = Type.Object(
  {
    signingSecrets: Type.Array(Type.String()),
    credentials: Type.Record(Type.String(), Type.String()),
  },
  { additionalProperties: false },
);
export type GatewaySecrets = Static<typeof GatewaySecretsSchema>;

/** The box's associated data: a box copied onto another account's row does not open there. */
export function gatewaySecretsContext(accountId: string): SealContext {
  return { purpose: "gateway_account", subject: accountId };
}

export function sealGatewaySecrets(vault: Vault, accountId: string, secrets: GatewaySecrets): SealedBox {
  return vault.sealJson(secrets, gatewaySecretsContext(accountId));
}

export function openGatewaySecrets(vault: Vault, accountId: string, sealed: SealedBox): GatewaySecrets {
  return vault.openJson(GatewaySecretsSchema, sealed, gatewaySecretsContext(accountId));
}
