/**
 * A STAND-IN for a real embedding provider. `tessera-local-hash-v1` is feature hashing, not a language
 * model: it captures which words (and word pairs) two texts share, not what they mean, so "car" and
 * "automobile" are unrelated to it. It exists so the example runs anywhere: no network, no API key, no
 * model download, and the same text always gives the same vector on every machine, so tests can assert
 * exact values. Replace it with a call to a real provider (through the egress guard) for actual search.
 *
 * The algorithm, precisely enough to reimplement it in another language (a search service must embed
 * queries the same way):
 * 1. Tokens: the text NFKC-normalized and lower-cased, split into runs of Unicode letters and digits.
 * 2. Features: each token as "u:<token>" with weight 1, each pair of adjacent tokens as
 *    "b:<token> <token>" with weight 0.5.
 * 3. Each feature's UTF-8 bytes are hashed with 32-bit FNV-1a, h. Its bucket is fmix32(h) mod dimension
 *    and its sign is + when fmix32(h XOR 0x5bd1e995) is even, - when odd (fmix32: MurmurHash3's
 *    finalizer). A signed hash keeps collisions from adding up in one direction.
 * 4. The weights, signed, are summed per bucket and the vector is scaled to unit length (L2). A text
 *    without any token gives the zero vector, and so, at a tiny dimension, can one whose signed weights
 *    cancel out exactly ("a a e" at dimension 1).
 */
export const LOCAL_EMBEDDING_MODEL = "tessera-local-hash-v1";

const UNIGRAM_WEIGHT = 1;
const BIGRAM_WEIGHT = 0.5;
const SIGN_SEED = 0x5bd1e995;
const utf8 = new TextEncoder();

/** The `dimension`-long, L2-normalized embedding of `text` (see the top of this file). */
export function embed(text: string, dimension: number): number[] {
  if (!Number.isInteger(dimension) || dimension < 1)
    throw new RangeError(`embed: dimension: expected an integer >= 1, got ${dimension}`);
  const vector = new Array<number>(dimension).fill(0);
  const tokens =
    text
      .normalize("NFKC")
      .toLowerCase()
      .match(/[\p{L}\p{N}]+/gu) ?? [];
  const add = (feature: string, weight: number): void => {
    const h = fnv1a32(utf8.encode(feature));
    const bucket = fmix32(h) % dimension;
    vector[bucket] = (vector[bucket] ?? 0) + ((fmix32(h ^ SIGN_SEED) & 1) === 0 ? weight : -weight);
  };
  tokens.forEach((token, i) => {
    add(`u:${token}`, UNIGRAM_WEIGHT);
    const next = tokens[i + 1];
    if (next !== undefined) add(`b:${token} ${next}`, BIGRAM_WEIGHT);
  });
  const norm = l2Norm(vector);
  return norm === 0 ? vector : vector.map((v) => v / norm);
}

export function l2Norm(vector: readonly number[]): number {
  return Math.sqrt(vector.reduce((sum, v) => sum + v * v, 0));
}

function fnv1a32(bytes: Uint8Array): number {
  let hash = 0x811c9dc5;
  for (const byte of bytes) hash = Math.imul(hash ^ byte, 0x01000193);
  return hash >>> 0;
}

function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
