import type Sodium from "libsodium-wrappers";
import { Value } from "@sinclair/typebox/value";
import type { TSchema, Static } from "@sinclair/typebox";
import { ConnectorError, ConnectorErrorCode } from "../errors.js";
import type { SealedBox } from "../schemas.js";
import { KEY_ID, type KeyringSource } from "./keyring.js";

/**
 * libsodium's WebAssembly, loaded on first use rather than on import: importing this package (the coordinator
 * and the CLI do, for every command) costs nothing until a vault is made.
 */
let loaded: Promise<typeof Sodium> | undefined;
async function loadSodium(): Promise<typeof Sodium> {
  loaded ??= import("libsodium-wrappers").then(async (m) => {
    await m.default.ready;
    return m.default;
  });
  return loaded;
}

/** First byte of every box: the format, so a later format can be read beside this one. */
const FORMAT_V1 = 1;

/**
 * What a box is for and whose it is. Bound into the box as associated data, so a box copied onto another
 * connection's row, or from a pending authorization onto a connection, does not open there.
 */
export interface SealContext {
  purpose: "credential" | "pending_authorization" | "gateway_account";
  /**
   * The row it belongs to: `<provider>/<user>` for a credential, the state hash for a pending authorization,
   * `<channelType>/<tenant>/<account>` for a gateway account's credentials.
   */
  subject: string;
}

function associatedData(keyId: string, context: SealContext): string {
  return `tessera-vault:v${FORMAT_V1}:${keyId}:${context.purpose}:${context.subject}`;
}

/**
 * Seals and opens small secrets (token sets, PKCE verifiers) with XChaCha20-Poly1305 (libsodium's AEAD with a
 * 24-byte random nonce). A box is `[format][nonce][ciphertext + tag]` and travels with the id of the key that
 * sealed it; the store keeps the two side by side. Decision 0027 says why this and not sealed boxes.
 */
export class Vault {
  private constructor(
    private readonly source: KeyringSource,
    private readonly sodium: typeof Sodium,
  ) {}

  /** libsodium's WebAssembly loads once, asynchronously; a vault exists only after it has. */
  static async create(source: KeyringSource): Promise<Vault> {
    const sodium = await loadSodium();
    source.keyring(); // A missing or malformed key fails at startup, not at the first connection.
    return new Vault(source, sodium);
  }

  /** The key new boxes are sealed under. */
  currentKeyId(): string {
    return this.source.keyring().currentKeyId;
  }

  /** Key ids this vault can open. */
  keyIds(): string[] {
    return this.source.keyring().keyIds;
  }

  seal(plaintext: string, context: SealContext): SealedBox {
    const sodium = this.sodium;
    const keyring = this.source.keyring();
    const keyId = keyring.currentKeyId;
    const nonce = sodium.randombytes_buf(sodium.crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
    const cipher = sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(
      plaintext,
      associatedData(keyId, context),
      null,
      nonce,
      keyring.key(keyId)!,
    );
    const box = new Uint8Array(1 + nonce.length + cipher.length);
    box[0] = FORMAT_V1;
    box.set(nonce, 1);
    box.set(cipher, 1 + nonce.length);
    return { keyId, box };
  }

  open(sealed: SealedBox, context: SealContext): string {
    const key = this.source.keyring().key(sealed.keyId);
    if (key === undefined)
      throw new ConnectorError(
        ConnectorErrorCode.Vault,
        `a box is sealed under vault key ${sealed.keyId}, which ${this.source.describe} does not hold`,
      );
    const sodium = this.sodium;
    const nonceBytes = sodium.crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
    if (sealed.box[0] !== FORMAT_V1 || sealed.box.length < 1 + nonceBytes + 16)
      throw new ConnectorError(ConnectorErrorCode.Vault, `a box under key ${sealed.keyId} has an unknown format`);
    try {
      return sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(
        null,
        sealed.box.subarray(1 + nonceBytes),
        associatedData(sealed.keyId, context),
        sealed.box.subarray(1, 1 + nonceBytes),
        key,
        "text",
      );
    } catch {
      throw new ConnectorError(
        ConnectorErrorCode.Vault,
        `a box under key ${sealed.keyId} does not open for ${context.purpose} ${context.subject}: tampered, moved or sealed with other key bytes`,
      );
    }
  }

  sealJson(value: unknown, context: SealContext): SealedBox {
    return this.seal(JSON.stringify(value), context);
  }

  /** Opens a box and checks what it holds against `schema`. */
  openJson<S extends TSchema>(schema: S, sealed: SealedBox, context: SealContext): Static<S> {
    const value: unknown = JSON.parse(this.open(sealed, context));
    if (!Value.Check(schema, value))
      throw new ConnectorError(ConnectorErrorCode.Vault, `a box under key ${sealed.keyId} holds an unexpected shape`);
    return value;
  }

  /** Opens under whichever key sealed it and seals again under the current key (rotation). */
  reseal(sealed: SealedBox, context: SealContext): SealedBox {
    return this.seal(this.open(sealed, context), context);
  }
}

/** A new random key entry for a key file or TESSERA_VAULT_KEYS: `<key id>:<base64>`. */
export async function generateKeyEntry(keyId: string): Promise<string> {
  if (!KEY_ID.test(keyId))
    throw new ConnectorError(
      ConnectorErrorCode.Vault,
      `vault key id ${JSON.stringify(keyId)}: expected 1-64 of [A-Za-z0-9._-]`,
    );
  const sodium = await loadSodium();
  return `${keyId}:${Buffer.from(sodium.crypto_aead_xchacha20poly1305_ietf_keygen()).toString("base64")}`;
}
