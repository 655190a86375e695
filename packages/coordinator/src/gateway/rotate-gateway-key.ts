import { gatewayAccountId } from "@tessera/client/schemas";
import {
  gatewaySecretsContext,
  rotateSealedBoxes,
  type RotationOptions,
  type RotationReport,
  type Vault,
} from "@tessera/connectors/storage";
import type { GatewayAccountStore } from "./account-store.js";

/**
 * Reseals every gateway account's credentials under the vault's current key, by the same loop as the
 * connections' rotation. Each box is replaced only over the credentials version it was read at, so a
 * `tessera gateway rotate` racing it keeps its new secrets (its box is picked up again, already under the
 * new key or resealed on the next pass).
 */
export function rotateGatewayCredentials(
  store: GatewayAccountStore,
  vault: Vault,
  options: RotationOptions = {},
): Promise<RotationReport> {
  return rotateSealedBoxes(
    {
      notUnder: (keyId, limit) => store.sealedNotUnder(keyId, limit),
      replace: (entry, next) => store.replaceSealed(entry, next),
      countByKey: () => store.countByKey(),
      contextOf: (entry) =>
        gatewaySecretsContext(gatewayAccountId(entry.key.channelType, entry.key.tenant, entry.key.account)),
    },
    vault,
    options,
  );
}
