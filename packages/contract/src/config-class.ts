import { Type, type Static } from "@sinclair/typebox";

/**
 * Who may see a configuration value. Every coordinator setting and every Component `config` key has one:
 * - public: anyone, the dashboard's browser bundle included;
 * - internal: operators (the admin API, logs, `tessera config`), never the browser bundle;
 * - secret: nobody; every output shows `REDACTED` (or, in manifests, only a `secretKeyRef`);
 * - local-only: a laptop's value (a stub, a debug switch), refused in staging and production.
 */
export const CONFIG_CLASSES = ["public", "internal", "secret", "local-only"] as const;
export const ConfigClassSchema = Type.Union(
  CONFIG_CLASSES.map((c) => Type.Literal(c)),
  { description: "public, internal, secret or local-only (docs/contract.md#config-classes)" },
);
export type ConfigClass = Static<typeof ConfigClassSchema>;

/** The class of a value nobody declared one for: visible to operators, kept out of the browser. */
export const DEFAULT_CONFIG_CLASS: ConfigClass = "internal";

/** What every output shows in place of a secret value that is set: that it is set, nothing more. */
export const REDACTED = "(set)";

/**
 * The one redaction rule: how a value of class `cls` is shown anywhere outside the code that uses it (the
 * admin API, logs, the audit log, `tessera config`, error messages). A secret that is set becomes REDACTED,
 * an unset one stays null; every other class is shown as it is.
 */
export function redactedValue(cls: ConfigClass, value: unknown): unknown {
  if (cls !== "secret") return value;
  return value === null || value === undefined ? null : REDACTED;
}

/** Shorter secrets than this are not scrubbed from text: replacing "1" everywhere would garble every message. */
const MIN_SCRUBBED_LENGTH = 4;
/**
 * Messages clip what they quote (a value's first 40 characters, say): a run of at least this many of a
 * secret's first characters is scrubbed too, so a clipped secret does not leak its beginning.
 */
const MIN_SCRUBBED_PREFIX = 16;

/** `text` with every run that is the whole of `secret`, or a prefix of it long enough to matter, replaced. */
function scrubOne(text: string, secret: string): string {
  const minimum = Math.min(secret.length, MIN_SCRUBBED_PREFIX);
  const head = secret.slice(0, minimum);
  let out = "";
  let from = 0;
  for (let at = text.indexOf(head); at !== -1; at = text.indexOf(head, from)) {
    let length = minimum;
    while (length < secret.length && text[at + length] === secret[length]) length += 1;
    out += `${text.slice(from, at)}${REDACTED}`;
    from = at + length;
  }
  return out + text.slice(from);
}

/**
 * `text` with every occurrence of each secret (and of its JSON-escaped form, and of a long enough prefix
 * of either, as clipped messages quote it) replaced by REDACTED: for text built from values before anyone
 * knew they were secret (a parser's error message, an error body quoting a request).
 */
export function scrubSecrets(text: string, secrets: Iterable<string>): string {
  let out = text;
  for (const secret of secrets) {
    if (secret.length < MIN_SCRUBBED_LENGTH) continue;
    for (const form of new Set([secret, JSON.stringify(secret).slice(1, -1)])) out = scrubOne(out, form);
  }
  return out;
}
