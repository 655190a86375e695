import { readFileSync, statSync } from "node:fs";
import { inspect } from "node:util";
import { ConnectorError, ConnectorErrorCode } from "../errors.js";

/** XChaCha20-Poly1305 keys are 32 bytes. */
export const VAULT_KEY_BYTES = 32;
/** What a key id may be: it is stored beside every box and written in key files. */
export const KEY_ID = /^[A-Za-z0-9._-]{1,64}$/;

/** Where the vault's keys come from when nothing is passed: one of these, read by `keyringSourceFromEnv`. */
export const VAULT_ENV = {
  /** Key entries inline (comma- or newline-separated): for a secret manager that injects variables. */
  keys: "TESSERA_VAULT_KEYS",
  /** A file of key entries, one a line: for a mounted secret; re-read when it changes. */
  keyFile: "TESSERA_VAULT_KEY_FILE",
} as const;

function vaultError(message: string): ConnectorError {
  return new ConnectorError(ConnectorErrorCode.Vault, message);
}

/**
 * The vault's keys by id. The first entry is the current key, which seals; every entry opens what it sealed,
 * which is what lets a rotation run while boxes under the old key are still being read.
 *
 * Key bytes live in a private field and the object prints as its key ids only (`inspect`, `JSON.stringify`,
 * a logger's serializer), so a keyring that ends up in a log line shows no key.
 */
export class Keyring {
  readonly #keys: ReadonlyMap<string, Uint8Array>;
  readonly currentKeyId: string;

  constructor(entries: readonly (readonly [string, Uint8Array])[]) {
    if (entries.length === 0) throw vaultError("the vault has no key: give at least one `<key id>:<base64 key>`");
    const keys = new Map<string, Uint8Array>();
    for (const [id, key] of entries) {
      if (!KEY_ID.test(id)) throw vaultError(`vault key id ${JSON.stringify(id)}: expected 1-64 of [A-Za-z0-9._-]`);
      if (key.length !== VAULT_KEY_BYTES)
        throw vaultError(
          `vault key ${id}: expected ${VAULT_KEY_BYTES} bytes, got ${key.length} (the key is not shown)`,
        );
      if (keys.has(id)) throw vaultError(`vault key ${id} is listed twice`);
      keys.set(id, key);
    }
    this.#keys = keys;
    this.currentKeyId = entries[0]![0];
  }

  key(id: string): Uint8Array | undefined {
    return this.#keys.get(id);
  }

  get keyIds(): string[] {
    return [...this.#keys.keys()];
  }

  toJSON(): unknown {
    return { keyIds: this.keyIds, currentKeyId: this.currentKeyId };
  }

  [inspect.custom](): string {
    return `Keyring { current: ${this.currentKeyId}, ids: [${this.keyIds.join(", ")}] }`;
  }
}

/**
 * Parses key entries, `<key id>:<base64 of 32 bytes>`, separated by newlines or commas; blank lines and lines
 * starting with `#` are skipped. Errors name the entry's position or id, never its bytes.
 */
export function parseKeyring(text: string): Keyring {
  const entries = text
    .split(/[\n,]/)
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#"))
    .map((line, index): [string, Uint8Array] => {
      const colon = line.indexOf(":");
      if (colon <= 0) throw vaultError(`vault key entry ${index + 1}: expected <key id>:<base64 key>`);
      const id = line.slice(0, colon);
      const encoded = line.slice(colon + 1);
      if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(encoded)) throw vaultError(`vault key ${id}: not base64 (not shown)`);
      return [
        id,
        new Uint8Array(Buffer.from(encoded, encoded.includes("-") || encoded.includes("_") ? "base64url" : "base64")),
      ];
    });
  return new Keyring(entries);
}

/** Where the vault gets its keyring: asked before every seal and open, so a key file may change under it. */
export interface KeyringSource {
  keyring(): Keyring;
  /** What the keys come from, for messages: a variable's or a file's name, never the keys. */
  readonly describe: string;
}

export function staticKeyring(keyring: Keyring, describe = "keys given in code"): KeyringSource {
  return { keyring: () => keyring, describe };
}

/**
 * A key file, re-read when its modification time or size changes: adding the new key on top of the file on
 * every replica (a mounted secret updates in place) starts sealing under it without a restart.
 */
export function keyFileSource(path: string): KeyringSource {
  let seen: { mtimeMs: number; size: number; keyring: Keyring } | undefined;
  return {
    describe: `key file ${path}`,
    keyring() {
      let stat;
      try {
        stat = statSync(path);
      } catch (err) {
        throw new ConnectorError(
          ConnectorErrorCode.Vault,
          `cannot read the vault key file ${path}`,
          {},
          { cause: err },
        );
      }
      if (seen === undefined || seen.mtimeMs !== stat.mtimeMs || seen.size !== stat.size) {
        seen = { mtimeMs: stat.mtimeMs, size: stat.size, keyring: parseKeyring(readFileSync(path, "utf8")) };
      }
      return seen.keyring;
    },
  };
}

/** The keyring named by TESSERA_VAULT_KEY_FILE or TESSERA_VAULT_KEYS (not both); undefined when neither is set. */
export function keyringSourceFromEnv(env: Readonly<Record<string, string | undefined>>): KeyringSource | undefined {
  const file = env[VAULT_ENV.keyFile];
  const inline = env[VAULT_ENV.keys];
  if (file && inline) throw vaultError(`set ${VAULT_ENV.keyFile} or ${VAULT_ENV.keys}, not both`);
  if (file) return keyFileSource(file);
  if (inline) return staticKeyring(parseKeyring(inline), VAULT_ENV.keys);
  return undefined;
}
