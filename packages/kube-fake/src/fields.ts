// Field paths, deep comparison, merge-patch, JSON-patch and the "managedFields-lite" machinery behind server-side apply.

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
export type JsonObject = { [k: string]: Json };

/** A path segment: a map key, or `{ v }` for one element of a set-typed list (only `metadata.finalizers`). */
export type Segment = string | { v: Json };
/** A path is stored as the JSON text of its segments, so it can live in a Set. */
export type PathKey = string;

export function isObject(v: unknown): v is JsonObject {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

export function clone<T>(v: T): T {
  return v === undefined ? v : (JSON.parse(JSON.stringify(v)) as T);
}

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    return a.every((x, i) => deepEqual(x, b[i]));
  }
  if (isObject(a)) {
    if (!isObject(b)) return false;
    const ka = Object.keys(a).filter((k) => a[k] !== undefined);
    const kb = Object.keys(b).filter((k) => b[k] !== undefined);
    if (ka.length !== kb.length) return false;
    return ka.every((k) => deepEqual(a[k], b[k]));
  }
  return false;
}

const SET_LISTS = new Set([JSON.stringify(["metadata", "finalizers"])]);

function isSetList(path: Segment[]): boolean {
  return SET_LISTS.has(JSON.stringify(path));
}

/** Leaf paths of an object: maps are recursed into, lists are atomic (except set-typed lists), empty maps are leaves. */
export function leafPaths(obj: Json, prefix: Segment[] = [], out: Set<PathKey> = new Set()): Set<PathKey> {
  if (isObject(obj) && Object.keys(obj).length > 0) {
    for (const [k, v] of Object.entries(obj)) {
      if (v === undefined) continue;
      leafPaths(v, [...prefix, k], out);
    }
  } else if (Array.isArray(obj) && isSetList(prefix)) {
    for (const v of obj) out.add(JSON.stringify([...prefix, { v }]));
  } else if (prefix.length > 0) {
    out.add(JSON.stringify(prefix));
  }
  return out;
}

export function parsePath(key: PathKey): Segment[] {
  return JSON.parse(key) as Segment[];
}

/** True if one path equals the other or is an ancestor of it. */
export function overlaps(a: PathKey, b: PathKey): boolean {
  if (a === b) return true;
  const pa = a.slice(0, -1) + ",";
  const pb = b.slice(0, -1) + ",";
  return b.startsWith(pa) || a.startsWith(pb);
}

export function getAt(obj: Json | undefined, path: Segment[]): Json | undefined {
  let cur: Json | undefined = obj;
  for (const seg of path) {
    if (typeof seg === "string") {
      if (!isObject(cur)) return undefined;
      cur = cur[seg];
    } else {
      if (!Array.isArray(cur)) return undefined;
      return cur.some((x) => deepEqual(x, seg.v)) ? seg.v : undefined;
    }
  }
  return cur;
}

/** Removes a path; prunes map parents that became empty (unless `keep` says a parent is itself owned). */
export function deleteAt(obj: JsonObject, path: Segment[], keep: (p: Segment[]) => boolean = () => false): void {
  const chain: JsonObject[] = [obj];
  let cur: Json | undefined = obj;
  for (let i = 0; i < path.length - 1; i++) {
    const seg = path[i]!;
    if (typeof seg !== "string" || !isObject(cur)) return;
    cur = cur[seg];
    if (!isObject(cur) && !(Array.isArray(cur) && i === path.length - 2)) return;
    if (isObject(cur)) chain.push(cur);
  }
  const last = path[path.length - 1]!;
  if (typeof last === "string") {
    if (isObject(cur)) delete cur[last];
  } else {
    const parent = chain[chain.length - 1]!;
    const key = path[path.length - 2] as string;
    const list = parent[key];
    if (Array.isArray(list)) {
      const rest = list.filter((x) => !deepEqual(x, last.v));
      if (rest.length === 0) delete parent[key];
      else parent[key] = rest;
    }
  }
  // prune empty map parents, innermost first
  for (let i = chain.length - 1; i >= 1; i--) {
    const node = chain[i]!;
    const parentPath = path.slice(0, i) as string[];
    if (Object.keys(node).length > 0 || keep(parentPath)) break;
    delete chain[i - 1]![parentPath[parentPath.length - 1]!];
  }
}

/** SSA merge: maps merged recursively, lists replaced, except set-typed lists which are unioned. */
export function applyMerge(live: Json | undefined, applied: Json, path: Segment[] = []): Json {
  if (isObject(applied) && isObject(live)) {
    const out: JsonObject = { ...live };
    for (const [k, v] of Object.entries(applied)) {
      if (v === undefined) continue;
      out[k] = applyMerge(live[k], v, [...path, k]);
    }
    return out;
  }
  if (Array.isArray(applied) && Array.isArray(live) && isSetList(path)) {
    const out = [...live];
    for (const v of applied) if (!out.some((x) => deepEqual(x, v))) out.push(v);
    return out;
  }
  return clone(applied);
}

/** RFC 7386 JSON merge patch. */
export function mergePatch(target: Json | undefined, patch: Json): Json {
  if (!isObject(patch)) return clone(patch);
  const out: JsonObject = isObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

export class PatchError extends Error {}

function pointer(p: string): string[] {
  if (p === "") return [];
  if (!p.startsWith("/")) throw new PatchError(`invalid JSON pointer ${JSON.stringify(p)}`);
  return p
    .slice(1)
    .split("/")
    .map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"));
}

/** RFC 6902 JSON patch: add, remove, replace, test, move, copy. */
export function jsonPatch(doc: Json, ops: unknown): Json {
  if (!Array.isArray(ops)) throw new PatchError("json patch must be an array");
  let root = clone(doc);
  const parentOf = (segs: string[]): { parent: Json; key: string } => {
    let cur: Json = root;
    for (const s of segs.slice(0, -1)) {
      const next: Json | undefined = Array.isArray(cur) ? cur[Number(s)] : isObject(cur) ? cur[s] : undefined;
      if (next === undefined) throw new PatchError(`path not found: /${segs.join("/")}`);
      cur = next;
    }
    return { parent: cur, key: segs[segs.length - 1]! };
  };
  const read = (segs: string[]): Json | undefined => getAt(root, segs);
  const remove = (segs: string[]): void => {
    const { parent, key } = parentOf(segs);
    if (Array.isArray(parent)) {
      const i = Number(key);
      if (!(i >= 0 && i < parent.length)) throw new PatchError(`index out of range: ${key}`);
      parent.splice(i, 1);
    } else if (isObject(parent) && key in parent) delete parent[key];
    else throw new PatchError(`path not found: /${segs.join("/")}`);
  };
  const add = (segs: string[], value: Json, replace: boolean): void => {
    if (segs.length === 0) {
      root = clone(value);
      return;
    }
    const { parent, key } = parentOf(segs);
    if (Array.isArray(parent)) {
      const i = key === "-" ? parent.length : Number(key);
      if (!(i >= 0 && i <= parent.length)) throw new PatchError(`index out of range: ${key}`);
      if (replace) parent[i] = clone(value);
      else parent.splice(i, 0, clone(value));
    } else if (isObject(parent)) {
      if (replace && !(key in parent)) throw new PatchError(`path not found: /${segs.join("/")}`);
      parent[key] = clone(value);
    } else throw new PatchError(`path not found: /${segs.join("/")}`);
  };
  for (const raw of ops) {
    if (!isObject(raw) || typeof raw.op !== "string" || typeof raw.path !== "string")
      throw new PatchError("invalid json patch operation");
    const segs = pointer(raw.path);
    switch (raw.op) {
      case "add":
        add(segs, raw.value as Json, false);
        break;
      case "replace":
        add(segs, raw.value as Json, true);
        break;
      case "remove":
        remove(segs);
        break;
      case "test":
        if (!deepEqual(read(segs), raw.value)) throw new PatchError(`test failed at ${raw.path}`);
        break;
      case "move":
      case "copy": {
        const from = pointer(String(raw.from));
        const v = read(from);
        if (v === undefined) throw new PatchError(`path not found: ${String(raw.from)}`);
        if (raw.op === "move") remove(from);
        add(segs, v, false);
        break;
      }
      default:
        throw new PatchError(`unsupported json patch op ${raw.op}`);
    }
  }
  return root;
}

/** Render a set of paths the way `managedFields[].fieldsV1` does (`f:key`, `v:value`). */
export function toFieldsV1(paths: Iterable<PathKey>): JsonObject {
  const root: JsonObject = {};
  for (const key of paths) {
    let cur = root;
    for (const seg of parsePath(key)) {
      const k = typeof seg === "string" ? `f:${seg}` : `v:${JSON.stringify(seg.v)}`;
      const next = cur[k];
      if (isObject(next)) cur = next;
      else {
        const n: JsonObject = {};
        cur[k] = n;
        cur = n;
      }
    }
  }
  return root;
}

/** Human form of a path, as in the API server's conflict messages: `.spec.replicas`. */
export function pathString(key: PathKey): string {
  return parsePath(key)
    .map((s) => (typeof s === "string" ? `.${s}` : `[${JSON.stringify(s.v)}]`))
    .join("");
}
