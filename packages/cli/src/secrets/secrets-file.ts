import { createHash, randomBytes } from "node:crypto";
import { isMap, isScalar, parseDocument } from "yaml";

/**
 * The local file `tessera secrets sync` and `diff` read: YAML (or JSON), Secret name → key → value.
 *
 * ```yaml
 * openai:
 *   api-key: sk-…
 * postgres:
 *   password: "5432-is-not-a-number-here"
 * ```
 *
 * Every problem is reported by path (`openai.api-key`) and kind, never by value: a value is never printed,
 * not even in a YAML syntax error (the parser's message quotes the offending line, so it is not shown).
 */
export type SecretsFile = Map<string, Map<string, string>>;

export interface SecretsFileProblem {
  path: string;
  expected: string;
  received: string;
  line?: number;
}

/** A Secret is at most 1 MiB; a file is allowed a few of them. */
export const MAX_SECRETS_FILE_BYTES = 8 * 1024 * 1024;
const SECRET_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const SECRET_KEY = /^[-._a-zA-Z0-9]+$/;

/** Why `text` is not a Secret name (a DNS-1123 subdomain), or undefined. */
export function secretNameProblem(name: string): string | undefined {
  if (name.length > 253 || !SECRET_NAME.test(name))
    return "a Secret name: lower-case letters, digits, '-' and '.', at most 253 characters";
  return undefined;
}

/** Why `key` is not a Secret data key, or undefined. */
export function secretKeyProblem(key: string): string | undefined {
  if (key.length > 253 || !SECRET_KEY.test(key))
    return "a Secret key: letters, digits, '-', '_' and '.', at most 253 characters";
  return undefined;
}

function lineOf(lineStarts: number[], node: { range?: unknown } | null | undefined): number | undefined {
  const range = (node as { range?: [number, number, number] } | null | undefined)?.range;
  if (range === undefined) return undefined;
  let line = 0;
  while (line + 1 < lineStarts.length && (lineStarts[line + 1] as number) <= range[0]) line += 1;
  return line + 1;
}

/** What a YAML node is, in words that never include its content. */
function kindOf(node: unknown): string {
  if (isMap(node)) return "a mapping";
  if (isScalar(node)) {
    const v = node.value;
    return v === null ? "null" : `a ${typeof v} (value not shown)`;
  }
  return "a sequence or other node";
}

export function parseSecretsFile(text: string): { file: SecretsFile; problems: SecretsFileProblem[] } {
  const lineStarts = [0];
  for (let i = 0; i < text.length; i++) if (text[i] === "\n") lineStarts.push(i + 1);
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: false });
  const file: SecretsFile = new Map();
  if (doc.errors.length > 0) {
    // The parser's message may quote the line, which may hold a value: only the position is reported.
    return {
      file,
      problems: doc.errors.map((e) => ({
        path: "(yaml)",
        expected: "valid YAML",
        received: `a syntax error (${e.code})`,
        ...(e.linePos?.[0] !== undefined ? { line: e.linePos[0].line } : {}),
      })),
    };
  }
  const problems: SecretsFileProblem[] = [];
  const root = doc.contents;
  if (!isMap(root))
    return {
      file,
      problems: [{ path: "(root)", expected: "a mapping of Secret name → key → value", received: kindOf(root) }],
    };
  for (const pair of root.items) {
    const name = isScalar(pair.key) ? String(pair.key.value) : "";
    const at = (p: Omit<SecretsFileProblem, "line">, node: unknown) => {
      const line = lineOf(lineStarts, node as { range?: unknown });
      problems.push({ ...p, ...(line !== undefined ? { line } : {}) });
    };
    const nameProblem = secretNameProblem(name);
    if (nameProblem !== undefined) {
      at({ path: JSON.stringify(name), expected: nameProblem, received: "another name" }, pair.key);
      continue;
    }
    if (!isMap(pair.value)) {
      at({ path: name, expected: "a mapping of key → value", received: kindOf(pair.value) }, pair.value ?? pair.key);
      continue;
    }
    const data = new Map<string, string>();
    for (const entry of pair.value.items) {
      const key = isScalar(entry.key) ? String(entry.key.value) : "";
      const keyProblem = secretKeyProblem(key);
      if (keyProblem !== undefined) {
        at({ path: `${name}.${JSON.stringify(key)}`, expected: keyProblem, received: "another key" }, entry.key);
        continue;
      }
      const value = isScalar(entry.value) ? entry.value.value : undefined;
      if (typeof value !== "string") {
        at(
          { path: `${name}.${key}`, expected: "a string (quote numbers and booleans)", received: kindOf(entry.value) },
          entry.value ?? entry.key,
        );
        continue;
      }
      data.set(key, value);
    }
    if (data.size === 0 && !problems.some((p) => p.path.startsWith(`${name}.`)))
      at({ path: name, expected: "at least one key", received: "an empty mapping" }, pair.value);
    file.set(name, data);
  }
  return { file, problems };
}

/**
 * Hashes Secret values for `tessera secrets diff`: SHA-256 over a salt and the value, the salt random per run
 * and never printed. Within one run the same value gives the same hash (local and cluster compare); a printed
 * hash cannot be looked up in a dictionary of likely values (a short password, a PIN) nor matched against the
 * hash of the same value in another run, another cluster's output or a CI log (decision 0039).
 */
export function valueHasher(salt: Buffer = randomBytes(32)): (value: Uint8Array) => string {
  return (value) => `sha256:${createHash("sha256").update(salt).update(value).digest("hex").slice(0, 16)}`;
}

export type DiffState = "same" | "differs" | "only-local" | "only-cluster";

export interface SecretDiffRow {
  secret: string;
  key: string;
  local?: string;
  cluster?: string;
  state: DiffState;
}

/**
 * Local against cluster, by Secret name and key: the hashes of both sides, and whether they agree. Secrets the
 * file does not name are not compared (the cluster holds many the file has nothing to do with).
 */
export function diffSecrets(
  local: SecretsFile,
  cluster: ReadonlyMap<string, ReadonlyMap<string, Uint8Array> | undefined>,
  hash: (value: Uint8Array) => string,
): SecretDiffRow[] {
  const rows: SecretDiffRow[] = [];
  for (const [secret, data] of local) {
    const live = cluster.get(secret);
    const keys = [...new Set([...data.keys(), ...(live?.keys() ?? [])])].sort();
    for (const key of keys) {
      const l = data.get(key);
      const c = live?.get(key);
      const localHash = l !== undefined ? hash(Buffer.from(l, "utf8")) : undefined;
      const clusterHash = c !== undefined ? hash(c) : undefined;
      const state: DiffState =
        localHash === undefined
          ? "only-cluster"
          : clusterHash === undefined
            ? "only-local"
            : localHash === clusterHash
              ? "same"
              : "differs";
      rows.push({
        secret,
        key,
        ...(localHash !== undefined ? { local: localHash } : {}),
        ...(clusterHash !== undefined ? { cluster: clusterHash } : {}),
        state,
      });
    }
  }
  return rows;
}
