import { isMap, isScalar, isSeq, type Document, type LineCounter } from "yaml";

/** `spec.allowlist.cidrs[0]` → ["spec", "allowlist", "cidrs", 0]. */
function segments(path: string): (string | number)[] {
  const out: (string | number)[] = [];
  for (const m of path.matchAll(/([^.[\]]+)|\[(\d+)\]/g))
    out.push(m[2] !== undefined ? Number(m[2]) : (m[1] as string));
  return out;
}

/**
 * The 1-based line of the deepest node on `path` that exists in the document: the field itself, or for a
 * missing field the mapping that should hold it. Map keys may contain dots (config keys), so a key that is
 * not found whole is retried joined with the following segments.
 */
export function lineOf(doc: Document, lines: LineCounter, path: string): number | undefined {
  let node: unknown = doc.contents;
  let offset = (doc.contents as { range?: [number, number, number] } | null)?.range?.[0];
  const parts = segments(path);
  for (let i = 0; i < parts.length; i++) {
    if (isMap(node)) {
      let found = false;
      for (let j = i; j < parts.length && typeof parts[j] === "string"; j++) {
        const key = parts.slice(i, j + 1).join(".");
        const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === key);
        if (pair === undefined) continue;
        offset = (pair.key as { range?: [number, number, number] }).range?.[0] ?? offset;
        node = pair.value;
        i = j;
        found = true;
        break;
      }
      if (!found) break;
    } else if (isSeq(node) && typeof parts[i] === "number") {
      const item: unknown = node.items[parts[i] as number];
      const range = (item as { range?: [number, number, number] } | undefined)?.range;
      if (range === undefined) break;
      offset = range[0];
      node = item;
    } else {
      break;
    }
  }
  return offset === undefined ? undefined : lines.linePos(offset).line;
}
