import { ConnectorError, ConnectorErrorCode } from "../errors.js";
import type { SealedBox } from "../schemas.js";
import type { ConnectionStore, SealedEntry } from "../store/connection-store.js";
import type { SealContext, Vault } from "./vault.js";

/**
 * Any table of sealed boxes a rotation walks: the connection store, the gateway's accounts. `replace` is a
 * compare-and-swap against what `notUnder` read, so a concurrent write to one box is never overwritten.
 */
export interface SealedBoxSource<E extends { sealed: SealedBox }> {
  notUnder(keyId: string, limit: number): Promise<E[]>;
  replace(entry: E, next: SealedBox): Promise<boolean>;
  countByKey(): Promise<Record<string, number>>;
  /** The associated data the box was sealed with. */
  contextOf(entry: E): SealContext;
}

export interface RotationOptions {
  /** Boxes read and resealed per step (default 100): each step is short, so nothing waits on it for long. */
  batchSize?: number;
  /**
   * Steps in a row in which every replacement lost to a concurrent write before giving up (default 5): a
   * replica still sealing under an old key (its key file not yet updated) would otherwise keep the rotation
   * going forever.
   */
  maxFruitlessSteps?: number;
  onProgress?: (done: number) => void;
}

export interface RotationReport {
  keyId: string;
  /** Boxes moved to `keyId` by this run. */
  resealed: number;
  /** Replacements that lost to a concurrent write (a refresh): the new box was picked up again. */
  raced: number;
  /** Boxes per key id once the run ended: only `keyId` when it finished. */
  byKey: Record<string, number>;
}

function contextOf(entry: SealedEntry): SealContext {
  return { purpose: entry.kind === "connection" ? "credential" : "pending_authorization", subject: entry.subject };
}

/**
 * Re-encrypts every sealed box in the store under the vault's current key, a batch at a time, each box by a
 * compare-and-swap (a refresh that rewrote it meanwhile wins; its box is picked up by a later step). Old keys
 * stay readable throughout, so coordinators keep serving while it runs; once it reports only the current key,
 * the old keys can be removed from the key file.
 */
export function rotateVaultKey(
  store: ConnectionStore,
  vault: Vault,
  options: RotationOptions = {},
): Promise<RotationReport> {
  return rotateSealedBoxes(
    {
      notUnder: (keyId, limit) => store.sealedNotUnder(keyId, limit),
      replace: (entry, next) => store.replaceSealed(entry, next),
      countByKey: () => store.countByKey(),
      contextOf,
    },
    vault,
    options,
  );
}

/** The rotation loop over any source of sealed boxes (see `rotateVaultKey`). */
export async function rotateSealedBoxes<E extends { sealed: SealedBox }>(
  store: SealedBoxSource<E>,
  vault: Vault,
  options: RotationOptions = {},
): Promise<RotationReport> {
  const keyId = vault.currentKeyId();
  const batchSize = options.batchSize ?? 100;
  const maxFruitless = options.maxFruitlessSteps ?? 5;
  let resealed = 0;
  let raced = 0;
  for (let fruitless = 0; ;) {
    const entries = await store.notUnder(keyId, batchSize);
    if (entries.length === 0) break;
    let moved = 0;
    for (const entry of entries) {
      if (await store.replace(entry, vault.reseal(entry.sealed, store.contextOf(entry)))) moved++;
      else raced++;
    }
    resealed += moved;
    options.onProgress?.(resealed);
    fruitless = moved === 0 ? fruitless + 1 : 0;
    if (fruitless >= maxFruitless) {
      const byKey = await store.countByKey();
      throw new ConnectorError(
        ConnectorErrorCode.Vault,
        `boxes keep being sealed under old keys (${describe(byKey)}): is the new key (${keyId}) first in every coordinator's key file?`,
      );
    }
  }
  return { keyId, resealed, raced, byKey: await store.countByKey() };
}

function describe(byKey: Record<string, number>): string {
  return Object.entries(byKey)
    .map(([id, n]) => `${id}: ${n}`)
    .join(", ");
}
