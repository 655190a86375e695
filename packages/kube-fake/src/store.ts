import { randomBytes, randomUUID } from "node:crypto";
import {
  applyMerge,
  clone,
  deepEqual,
  deleteAt,
  getAt,
  isObject,
  leafPaths,
  overlaps,
  parsePath,
  pathString,
  toFieldsV1,
  type Json,
  type JsonObject,
  type PathKey,
} from "./fields.js";
import { apiVersionOf, BUILTIN_RESOURCES, defsFromCrd, qualifiedName, type ResourceDef } from "./resources.js";

export type KubeObject = JsonObject & { metadata?: JsonObject };

/** A Kubernetes `Status` failure, thrown inside the store and written as the HTTP response. */
export class ApiError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly details?: JsonObject,
  ) {
    super(message);
  }
  toStatus(): JsonObject {
    return {
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message: this.message,
      reason: this.reason,
      ...(this.details ? { details: this.details } : {}),
      code: this.code,
    };
  }
}

export type Verb = "create" | "update" | "patch" | "apply" | "delete";

export interface WriteRecord {
  verb: Verb;
  /** "status" for the status subresource. */
  subresource?: string;
  resource: string;
  namespace?: string;
  name: string;
  /** False for a request that was accepted but changed nothing (no resourceVersion bump). */
  changed: boolean;
  manager?: string;
}

export type WatchEventType = "ADDED" | "MODIFIED" | "DELETED";

export interface StoreEvent {
  type: WatchEventType;
  rv: number;
  def: ResourceDef;
  namespace?: string;
  object: KubeObject;
}

interface Owner {
  manager: string;
  operation: "Apply" | "Update";
  subresource?: string;
  apiVersion: string;
  time: string;
  paths: Set<PathKey>;
}

interface Stored {
  def: ResourceDef;
  obj: KubeObject;
  owners: Map<string, Owner>;
}

export interface ObjectRef {
  apiVersion: string;
  kind: string;
  namespace?: string;
  name: string;
}

export interface WriteOptions {
  manager?: string;
  subresource?: string;
  dryRun?: boolean;
}

export interface StoreOptions {
  resources?: ResourceDef[];
  /** How many watch events are retained for resuming watches; older resourceVersions get 410 Gone. Default 1000. */
  watchWindow?: number;
  /** "strict" (default): writes into a namespace that does not exist get 404, like the real server. "auto": it is created. */
  namespaces?: "strict" | "auto";
  /** Delete dependents (by metadata.ownerReferences) when their last owner is gone. Default true. */
  garbageCollection?: boolean;
}

const NAME_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const SYSTEM_META = [
  "uid",
  "resourceVersion",
  "creationTimestamp",
  "generation",
  "managedFields",
  "deletionTimestamp",
  "deletionGracePeriodSeconds",
  "selfLink",
];
const TRACKED_META = ["labels", "annotations", "finalizers", "ownerReferences"];

function now(): string {
  return new Date().toISOString().replace(/\.\d+Z$/, "Z");
}

function meta(o: KubeObject): JsonObject {
  if (!isObject(o.metadata)) o.metadata = {};
  return o.metadata as JsonObject;
}

function finalizers(o: KubeObject): Json[] {
  const f = meta(o).finalizers;
  return Array.isArray(f) ? f : [];
}

function ownerKey(manager: string, operation: string, subresource?: string): string {
  return `${manager}\u0000${operation}\u0000${subresource ?? ""}`;
}

/** The part of an object field ownership is tracked for, for the main resource or the status subresource. */
function scoped(def: ResourceDef, o: JsonObject, subresource?: string): JsonObject {
  if (subresource === "status") return o.status === undefined ? {} : { status: clone(o.status) };
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(o)) {
    if (k === "apiVersion" || k === "kind" || k === "metadata") continue;
    if (k === "status" && def.statusSubresource) continue;
    out[k] = clone(v);
  }
  const m = isObject(o.metadata) ? o.metadata : {};
  const mo: JsonObject = {};
  for (const k of TRACKED_META) if (m[k] !== undefined && m[k] !== null) mo[k] = clone(m[k]!);
  if (Object.keys(mo).length) out.metadata = mo;
  return out;
}

function dropNulls(v: Json): Json {
  if (Array.isArray(v)) return v.map(dropNulls);
  if (!isObject(v)) return v;
  const out: JsonObject = {};
  for (const [k, x] of Object.entries(v)) if (x !== null && x !== undefined) out[k] = dropNulls(x);
  return out;
}

function withoutMeta(o: JsonObject, alsoStatus: boolean): JsonObject {
  const out: JsonObject = { ...o };
  delete out.metadata;
  delete out.apiVersion;
  delete out.kind;
  if (alsoStatus) delete out.status;
  return out;
}

export class FakeStore {
  private readonly defs: ResourceDef[] = [];
  private readonly objects = new Map<string, Stored>();
  private rv = 1;
  private readonly events: StoreEvent[] = [];
  /** Events with rv <= compactedRv are no longer retained. */
  private compactedRv = 0;
  private readonly listeners = new Set<(e: StoreEvent) => void>();
  readonly log: WriteRecord[] = [];
  private readonly window: number;
  private readonly nsMode: "strict" | "auto";
  private readonly gc: boolean;

  constructor(opts: StoreOptions = {}) {
    for (const d of [...BUILTIN_RESOURCES, ...(opts.resources ?? [])]) this.register(d);
    this.window = opts.watchWindow ?? 1000;
    this.nsMode = opts.namespaces ?? "strict";
    this.gc = opts.garbageCollection ?? true;
    for (const ns of ["default", "kube-system"])
      this.put({ apiVersion: "v1", kind: "Namespace", metadata: { name: ns } });
  }

  // ---- resource definitions ------------------------------------------------------------------------------------

  register(def: ResourceDef): void {
    const i = this.defs.findIndex((d) => d.group === def.group && d.version === def.version && d.plural === def.plural);
    if (i >= 0) this.defs[i] = def;
    else this.defs.push(def);
  }

  resources(): readonly ResourceDef[] {
    return this.defs;
  }

  findDef(group: string, version: string, plural: string): ResourceDef | undefined {
    return this.defs.find((d) => d.group === group && d.version === version && d.plural === plural);
  }

  defForKind(apiVersion: string, kind: string): ResourceDef {
    const def = this.defs.find((d) => apiVersionOf(d) === apiVersion && d.kind === kind);
    if (!def) throw new Error(`kube-fake: no resource registered for ${apiVersion} ${kind}`);
    return def;
  }

  // ---- reading -------------------------------------------------------------------------------------------------

  get resourceVersion(): number {
    return this.rv;
  }

  private key(def: ResourceDef, ns: string | undefined, name: string): string {
    return `${def.group}/${def.plural}/${def.namespaced ? (ns ?? "") : ""}/${name}`;
  }

  private out(def: ResourceDef, s: Stored | KubeObject): KubeObject {
    const o = clone("obj" in s && "def" in s ? (s as Stored).obj : (s as KubeObject));
    const rest: JsonObject = { ...o };
    delete rest.apiVersion;
    delete rest.kind;
    return { apiVersion: apiVersionOf(def), kind: def.kind, ...rest };
  }

  private mustGet(def: ResourceDef, ns: string | undefined, name: string): Stored {
    const s = this.objects.get(this.key(def, ns, name));
    if (!s) throw this.notFound(def, name);
    return s;
  }

  notFound(def: ResourceDef, name: string): ApiError {
    return new ApiError(404, "NotFound", `${qualifiedName(def)} "${name}" not found`, {
      name,
      group: def.group,
      kind: def.plural,
    });
  }

  read(def: ResourceDef, ns: string | undefined, name: string): KubeObject {
    return this.out(def, this.mustGet(def, ns, name));
  }

  items(def: ResourceDef, ns?: string): KubeObject[] {
    const out: KubeObject[] = [];
    for (const s of this.objects.values()) {
      if (s.def.group !== def.group || s.def.plural !== def.plural) continue;
      if (def.namespaced && ns !== undefined && meta(s.obj).namespace !== ns) continue;
      out.push(this.out(def, s));
    }
    return out.sort((a, b) =>
      `${String(meta(a).namespace ?? "")}/${String(meta(a).name)}`.localeCompare(
        `${String(meta(b).namespace ?? "")}/${String(meta(b).name)}`,
      ),
    );
  }

  // ---- test access (no request log, no validation) -------------------------------------------------------------

  /** Create or replace an object verbatim (status included), assigning uid/resourceVersion; emits a watch event. */
  put(object: KubeObject): KubeObject {
    const o = clone(object);
    const def = this.defForKind(String(o.apiVersion), String(o.kind));
    const m = meta(o);
    const name = String(m.name);
    const ns = def.namespaced ? String(m.namespace ?? "default") : undefined;
    if (ns !== undefined) m.namespace = ns;
    const k = this.key(def, ns, name);
    const prev = this.objects.get(k);
    m.uid ??= prev ? (meta(prev.obj).uid ?? randomUUID()) : randomUUID();
    m.creationTimestamp ??= prev ? (meta(prev.obj).creationTimestamp ?? now()) : now();
    m.generation ??= 1;
    delete m.managedFields;
    if (def.defaults) def.defaults(o);
    m.resourceVersion = String(++this.rv);
    const s: Stored = { def, obj: o, owners: prev?.owners ?? new Map() };
    this.objects.set(k, s);
    this.emit(prev ? "MODIFIED" : "ADDED", s);
    if (def.group === "apiextensions.k8s.io" && def.plural === "customresourcedefinitions")
      for (const d of defsFromCrd(o)) this.register(d);
    return this.out(def, s);
  }

  /** Remove an object immediately, ignoring finalizers; emits DELETED. Returns false if it did not exist. */
  remove(ref: ObjectRef): boolean {
    const def = this.defForKind(ref.apiVersion, ref.kind);
    const s = this.objects.get(this.key(def, ref.namespace, ref.name));
    if (!s) return false;
    this.purge(s);
    return true;
  }

  // ---- watch plumbing ------------------------------------------------------------------------------------------

  subscribe(fn: (e: StoreEvent) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Retained events after `rv`, or undefined when `rv` is older than the retained window (410 Gone). */
  eventsSince(rv: number): StoreEvent[] | undefined {
    if (rv < this.compactedRv) return undefined;
    return this.events.filter((e) => e.rv > rv);
  }

  get oldestRetainedRv(): number {
    return this.compactedRv;
  }

  /** Forget all retained events, as etcd compaction does: a watch from any older resourceVersion gets 410 Gone. */
  compact(): void {
    this.events.length = 0;
    this.compactedRv = this.rv;
  }

  private emit(type: WatchEventType, s: Stored): void {
    const m = meta(s.obj);
    const ev: StoreEvent = {
      type,
      rv: Number(m.resourceVersion),
      def: s.def,
      ...(s.def.namespaced ? { namespace: String(m.namespace) } : {}),
      object: this.out(s.def, s),
    };
    this.events.push(ev);
    while (this.events.length > this.window) this.compactedRv = this.events.shift()!.rv;
    for (const l of this.listeners) l(ev);
  }

  // ---- API operations ------------------------------------------------------------------------------------------

  private record(r: WriteRecord): void {
    this.log.push(r);
  }

  private ensureNamespace(def: ResourceDef, ns: string | undefined): void {
    if (!def.namespaced || ns === undefined) return;
    const nsDef = this.defForKind("v1", "Namespace");
    const existing = this.objects.get(this.key(nsDef, undefined, ns));
    if (existing) {
      if (meta(existing.obj).deletionTimestamp)
        throw new ApiError(
          403,
          "Forbidden",
          `unable to create new content in namespace ${ns} because it is being terminated`,
        );
      return;
    }
    if (this.nsMode === "auto") this.put({ apiVersion: "v1", kind: "Namespace", metadata: { name: ns } });
    else throw new ApiError(404, "NotFound", `namespaces "${ns}" not found`, { name: ns, kind: "namespaces" });
  }

  private checkIdentity(def: ResourceDef, body: JsonObject, ns: string | undefined, name?: string): void {
    if (!isObject(body)) throw new ApiError(400, "BadRequest", "the body of the request was not an object");
    if (body.kind !== undefined && body.kind !== def.kind)
      throw new ApiError(
        400,
        "BadRequest",
        `the kind "${String(body.kind)}" does not match the resource ${qualifiedName(def)} (kind ${def.kind})`,
      );
    if (body.apiVersion !== undefined && String(body.apiVersion).split("/")[0] !== (def.group || "v1"))
      throw new ApiError(
        400,
        "BadRequest",
        `the apiVersion "${String(body.apiVersion)}" does not match ${apiVersionOf(def)}`,
      );
    const m = isObject(body.metadata) ? body.metadata : {};
    if (name !== undefined && m.name !== undefined && m.name !== name)
      throw new ApiError(
        400,
        "BadRequest",
        `the name of the object (${String(m.name)}) does not match the name on the URL (${name})`,
      );
    if (def.namespaced && ns !== undefined && m.namespace !== undefined && m.namespace !== ns)
      throw new ApiError(
        400,
        "BadRequest",
        "the namespace of the provided object does not match the namespace sent on the request",
      );
  }

  create(
    def: ResourceDef,
    ns: string | undefined,
    body: JsonObject,
    opts: WriteOptions & { applyEntry?: (paths: Set<PathKey>) => Owner } = {},
  ): { object: KubeObject; changed: boolean } {
    this.checkIdentity(def, body, ns);
    const o = clone(body) as KubeObject;
    const m = meta(o);
    if ((m.name === undefined || m.name === "") && typeof m.generateName === "string")
      m.name = `${m.generateName}${randomBytes(4).toString("hex").slice(0, 5)}`;
    const name = typeof m.name === "string" ? m.name : "";
    if (!name) throw this.invalid(def, "", "metadata.name: Required value: name or generateName is required");
    const manager = opts.manager ?? "unknown";
    this.ensureNamespace(def, ns);
    if (this.objects.has(this.key(def, ns, name)))
      throw new ApiError(409, "AlreadyExists", `${qualifiedName(def)} "${name}" already exists`, {
        name,
        group: def.group,
        kind: def.plural,
      });
    const owners = new Map<string, Owner>();
    const paths = leafPaths(scoped(def, o)); // what the client sent, before defaulting
    const res = this.commit(def, ns, undefined, o, owners, opts, () => {
      if (!paths.size) return;
      if (opts.applyEntry) owners.set(ownerKey(manager, "Apply"), opts.applyEntry(paths));
      else
        owners.set(ownerKey(manager, "Update"), {
          manager,
          operation: "Update",
          apiVersion: apiVersionOf(def),
          time: now(),
          paths,
        });
    });
    this.record({
      verb: opts.applyEntry ? "apply" : "create",
      resource: qualifiedName(def),
      ...(ns ? { namespace: ns } : {}),
      name,
      changed: res.changed,
      manager,
    });
    return res;
  }

  /** PUT: replace the object (or its status with subresource "status"). `mutate` is how PATCH reuses this. */
  update(
    def: ResourceDef,
    ns: string | undefined,
    name: string,
    body: JsonObject | ((live: KubeObject) => JsonObject),
    opts: WriteOptions & { verb?: Verb } = {},
  ): { object: KubeObject; changed: boolean } {
    const verb = opts.verb ?? "update";
    const manager = opts.manager ?? "unknown";
    const rec = (changed: boolean): void =>
      this.record({
        verb,
        ...(opts.subresource ? { subresource: opts.subresource } : {}),
        resource: qualifiedName(def),
        ...(ns ? { namespace: ns } : {}),
        name,
        changed,
        manager,
      });
    const s = this.mustGet(def, ns, name);
    const live = this.out(def, s);
    const next = typeof body === "function" ? body(clone(live)) : body;
    this.checkIdentity(def, next, ns, name);
    const o = clone(next) as KubeObject;
    const m = meta(o);
    m.name = name;
    const rv = m.resourceVersion;
    if (rv === undefined || rv === null || rv === "") {
      if (def.custom && verb === "update")
        throw this.invalid(def, name, "metadata.resourceVersion: Invalid value: 0x0: must be specified for an update");
    } else if (String(rv) !== String(meta(s.obj).resourceVersion)) {
      throw this.conflict(def, name);
    }
    const owners = new Map(Array.from(s.owners, ([k, v]) => [k, { ...v, paths: new Set(v.paths) }]));
    const res = this.commit(def, ns, s, o, owners, opts, (obj) =>
      this.trackUpdate(def, owners, s.obj, obj, manager, opts.subresource),
    );
    rec(res.changed);
    return res;
  }

  /** Server-side apply: create if absent, else merge into live with per-manager field ownership. */
  apply(
    def: ResourceDef,
    ns: string | undefined,
    name: string,
    body: JsonObject,
    opts: WriteOptions & { force?: boolean },
  ): { object: KubeObject; changed: boolean; created: boolean } {
    const manager = opts.manager;
    if (!manager)
      throw new ApiError(
        400,
        "BadRequest",
        "PATCH requests with apply patch type must specify fieldManager (the fieldManager query parameter)",
      );
    this.checkIdentity(def, body, ns, name);
    if (body.apiVersion === undefined || body.kind === undefined)
      throw new ApiError(400, "BadRequest", "apply configuration must set apiVersion and kind");
    const applied = dropNulls(clone(body)) as KubeObject;
    meta(applied).name = name;
    const sub = opts.subresource;
    const appliedScoped = scoped(def, applied, sub);
    const appliedPaths = leafPaths(appliedScoped);
    const s = this.objects.get(this.key(def, ns, name));
    const rec = (changed: boolean): void =>
      this.record({
        verb: "apply",
        ...(sub ? { subresource: sub } : {}),
        resource: qualifiedName(def),
        ...(ns ? { namespace: ns } : {}),
        name,
        changed,
        manager,
      });
    const akey = ownerKey(manager, "Apply", sub);
    const entry = (paths: Set<PathKey> = appliedPaths): Owner => ({
      manager,
      operation: "Apply",
      ...(sub ? { subresource: sub } : {}),
      apiVersion: String(body.apiVersion),
      time: now(),
      paths,
    });
    if (!s) {
      if (sub) throw this.notFound(def, name);
      const res = this.create(def, ns, applied, { ...opts, manager, applyEntry: entry });
      return { ...res, changed: true, created: true };
    }
    const rv = meta(applied).resourceVersion;
    if (rv !== undefined && String(rv) !== String(meta(s.obj).resourceVersion)) throw this.conflict(def, name);
    const live = s.obj;
    const owners = new Map(Array.from(s.owners, ([k, v]) => [k, { ...v, paths: new Set(v.paths) }]));
    // conflicts with other managers that own a path with a different value
    const conflicts: { manager: string; apiVersion: string; path: PathKey; owner: Owner }[] = [];
    for (const p of appliedPaths) {
      for (const [k, o] of owners) {
        if (k === akey || o.manager === manager) continue;
        for (const q of o.paths) {
          if (!overlaps(p, q)) continue;
          const longer = q.length >= p.length ? q : p;
          const want = getAt(appliedScoped, parsePath(longer));
          if (want === undefined) continue;
          if (!deepEqual(getAt(live, parsePath(longer)), want))
            conflicts.push({ manager: o.manager, apiVersion: o.apiVersion, path: q, owner: o });
        }
      }
    }
    if (conflicts.length && !opts.force) {
      const msgs = conflicts.map((c) => `conflict with "${c.manager}" using ${c.apiVersion}: ${pathString(c.path)}`);
      throw new ApiError(
        409,
        "Conflict",
        `Apply failed with ${conflicts.length} conflict${conflicts.length > 1 ? "s" : ""}: ${msgs.join("\n")}`,
        {
          name,
          group: def.group,
          kind: def.plural,
          causes: conflicts.map((c) => ({
            reason: "FieldManagerConflict",
            message: `conflict with "${c.manager}" using ${c.apiVersion}`,
            field: pathString(c.path),
          })),
        },
      );
    }
    for (const c of conflicts) c.owner.paths.delete(c.path);
    // merge, then remove what this manager applied before but omits now (unless someone else owns it too)
    let merged = applyMerge(live, appliedScoped) as KubeObject;
    merged = clone(merged);
    const prev = owners.get(akey)?.paths ?? new Set<PathKey>();
    const others = Array.from(owners.entries()).filter(([k]) => k !== akey);
    const ownedByOthers = (q: PathKey): boolean =>
      others.some(([, o]) => Array.from(o.paths).some((x) => overlaps(x, q)));
    for (const q of prev) {
      if (Array.from(appliedPaths).some((p) => overlaps(p, q))) continue;
      if (ownedByOthers(q)) continue;
      deleteAt(
        merged,
        parsePath(q),
        (pp) =>
          ownedByOthers(JSON.stringify(pp)) || Array.from(appliedPaths).some((p) => overlaps(p, JSON.stringify(pp))),
      );
    }
    for (const [k, o] of owners) if (o.paths.size === 0) owners.delete(k);
    const prevEntry = owners.get(akey);
    if (appliedPaths.size) {
      const samePaths =
        prevEntry &&
        prevEntry.paths.size === appliedPaths.size &&
        Array.from(appliedPaths).every((p) => prevEntry.paths.has(p));
      owners.set(akey, samePaths ? prevEntry : entry());
    } else owners.delete(akey);
    const res = this.commit(def, ns, s, merged, owners, opts, () => undefined);
    rec(res.changed);
    return { ...res, created: false };
  }

  delete(
    def: ResourceDef,
    ns: string | undefined,
    name: string,
    opts: { preconditions?: { resourceVersion?: string; uid?: string }; dryRun?: boolean } = {},
  ): { object: KubeObject; removed: boolean; changed: boolean } {
    const s = this.mustGet(def, ns, name);
    const m = meta(s.obj);
    const rec = (changed: boolean): void =>
      this.record({ verb: "delete", resource: qualifiedName(def), ...(ns ? { namespace: ns } : {}), name, changed });
    const pre = opts.preconditions;
    if ((pre?.resourceVersion && pre.resourceVersion !== m.resourceVersion) || (pre?.uid && pre.uid !== m.uid)) {
      throw new ApiError(
        409,
        "Conflict",
        `Operation cannot be fulfilled on ${qualifiedName(def)} "${name}": Precondition failed`,
        { name, group: def.group, kind: def.plural },
      );
    }
    if (opts.dryRun) {
      rec(false);
      return { object: this.out(def, s), removed: finalizers(s.obj).length === 0, changed: false };
    }
    if (finalizers(s.obj).length > 0) {
      if (m.deletionTimestamp) {
        rec(false);
        return { object: this.out(def, s), removed: false, changed: false };
      }
      m.deletionTimestamp = now();
      m.deletionGracePeriodSeconds = 0;
      m.generation = Number(m.generation ?? 0) + 1;
      m.resourceVersion = String(++this.rv);
      this.emit("MODIFIED", s);
      rec(true);
      this.cascade(s);
      return { object: this.out(def, s), removed: false, changed: true };
    }
    const out = this.purge(s);
    rec(true);
    return { object: out, removed: true, changed: true };
  }

  // ---- internals -----------------------------------------------------------------------------------------------

  private conflict(def: ResourceDef, name: string): ApiError {
    return new ApiError(
      409,
      "Conflict",
      `Operation cannot be fulfilled on ${qualifiedName(def)} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
      { name, group: def.group, kind: def.plural },
    );
  }

  private invalid(def: ResourceDef, name: string, message: string): ApiError {
    return new ApiError(422, "Invalid", `${def.kind} "${name}" is invalid: ${message}`, {
      name,
      group: def.group,
      kind: def.kind,
    });
  }

  private trackUpdate(
    def: ResourceDef,
    owners: Map<string, Owner>,
    before: JsonObject,
    after: JsonObject,
    manager: string,
    sub?: string,
  ): void {
    const a = scoped(def, before, sub);
    const b = scoped(def, after, sub);
    const oldLeaves = leafPaths(a);
    const newLeaves = leafPaths(b);
    const touched = new Set<PathKey>();
    for (const p of newLeaves) if (!deepEqual(getAt(a, parsePath(p)), getAt(b, parsePath(p)))) touched.add(p);
    const removed = new Set<PathKey>();
    for (const p of oldLeaves) if (!newLeaves.has(p)) removed.add(p);
    if (!touched.size && !removed.size) return;
    const k = ownerKey(manager, "Update", sub);
    for (const [key, o] of owners) {
      if (key === k) continue;
      for (const q of Array.from(o.paths)) if ([...touched, ...removed].some((p) => overlaps(p, q))) o.paths.delete(q);
      if (o.paths.size === 0) owners.delete(key);
    }
    const mine = owners.get(k) ?? {
      manager,
      operation: "Update" as const,
      ...(sub ? { subresource: sub } : {}),
      apiVersion: apiVersionOf(def),
      time: now(),
      paths: new Set<PathKey>(),
    };
    for (const q of Array.from(mine.paths)) if ([...removed].some((p) => overlaps(p, q))) mine.paths.delete(q);
    for (const p of touched) mine.paths.add(p);
    mine.time = now();
    if (mine.paths.size) owners.set(k, mine);
    else owners.delete(k);
  }

  private managedFields(owners: Map<string, Owner>): Json {
    return Array.from(owners.values()).map((o) => ({
      manager: o.manager,
      operation: o.operation,
      apiVersion: o.apiVersion,
      time: o.time,
      fieldsType: "FieldsV1",
      fieldsV1: toFieldsV1(o.paths),
      ...(o.subresource ? { subresource: o.subresource } : {}),
    }));
  }

  private sameOwners(a: Map<string, Owner>, b: Map<string, Owner>): boolean {
    if (a.size !== b.size) return false;
    for (const [k, o] of a) {
      const p = b.get(k);
      if (!p || p.paths.size !== o.paths.size) return false;
      for (const x of o.paths) if (!p.paths.has(x)) return false;
    }
    return true;
  }

  /**
   * The one place objects are written through the API: scopes status, keeps system metadata, defaults, bumps
   * generation on spec changes, skips no-op writes, and finishes deletion when the last finalizer goes.
   */
  private commit(
    def: ResourceDef,
    ns: string | undefined,
    prev: Stored | undefined,
    candidate: KubeObject,
    owners: Map<string, Owner>,
    opts: WriteOptions,
    track: (obj: KubeObject) => void,
  ): { object: KubeObject; changed: boolean } {
    let o: KubeObject = clone(candidate);
    const sub = opts.subresource;
    if (prev && sub === "status") {
      o = { ...clone(prev.obj), status: clone(o.status ?? null) };
      if (o.status === null) delete o.status;
    } else if (def.statusSubresource) {
      if (prev && prev.obj.status !== undefined) o.status = clone(prev.obj.status);
      else delete o.status;
    }
    o.apiVersion = apiVersionOf(def);
    o.kind = def.kind;
    const m = meta(o);
    for (const k of SYSTEM_META) delete m[k];
    if (def.namespaced) m.namespace = ns ?? "default";
    else delete m.namespace;
    const name = String(m.name);
    if (!prev && (name.length > 253 || !NAME_RE.test(name)))
      throw this.invalid(
        def,
        name,
        `metadata.name: Invalid value: "${name}": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character`,
      );
    if (def.defaults) def.defaults(o);
    const refused = prev && def.validateUpdate ? def.validateUpdate(prev.obj, o) : undefined;
    if (refused !== undefined) throw this.invalid(def, name, refused);
    if (def.group === "" && def.plural === "namespaces") {
      const st = isObject(o.status) ? o.status : {};
      if (st.phase === undefined) o.status = { ...st, phase: "Active" };
    }
    if (prev) {
      const pm = meta(prev.obj);
      for (const k of ["uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds"])
        if (pm[k] !== undefined) m[k] = pm[k]!;
      if (pm.deletionTimestamp) {
        const added = finalizers(o).filter((f) => !finalizers(prev.obj).some((x) => deepEqual(x, f)));
        if (added.length)
          throw this.invalid(
            def,
            name,
            `metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers ${JSON.stringify(added)}`,
          );
      }
      const specChanged = !deepEqual(withoutMeta(o, true), withoutMeta(prev.obj, true));
      m.generation = Number(pm.generation ?? 1) + (specChanged ? 1 : 0);
    } else {
      m.uid = randomUUID();
      m.creationTimestamp = now();
      m.generation = 1;
    }
    if (m.finalizers !== undefined && finalizers(o).length === 0) delete m.finalizers;
    track(o);
    if (prev) {
      const a = { ...prev.obj, metadata: { ...meta(prev.obj), managedFields: null, resourceVersion: null } };
      const b = { ...o, metadata: { ...m, managedFields: null, resourceVersion: null } };
      if (deepEqual(a, b) && this.sameOwners(prev.owners, owners))
        return { object: this.out(def, prev), changed: false };
    }
    m.managedFields = this.managedFields(owners);
    if (opts.dryRun) {
      m.resourceVersion = prev ? meta(prev.obj).resourceVersion! : "";
      return { object: this.out(def, o), changed: false };
    }
    m.resourceVersion = String(++this.rv);
    const s: Stored = { def, obj: o, owners };
    this.objects.set(this.key(def, ns, name), s);
    this.emit(prev ? "MODIFIED" : "ADDED", s);
    if (def.group === "apiextensions.k8s.io" && def.plural === "customresourcedefinitions")
      for (const d of defsFromCrd(o)) this.register(d);
    if (m.deletionTimestamp && finalizers(o).length === 0) return { object: this.purge(s), changed: true };
    return { object: this.out(def, s), changed: true };
  }

  /** Remove for good: DELETED event, then garbage-collect dependents and namespace contents. */
  private purge(s: Stored): KubeObject {
    const m = meta(s.obj);
    this.objects.delete(this.key(s.def, m.namespace === undefined ? undefined : String(m.namespace), String(m.name)));
    m.resourceVersion = String(++this.rv);
    this.emit("DELETED", s);
    this.cascade(s);
    return this.out(s.def, s);
  }

  private cascade(s: Stored): void {
    const m = meta(s.obj);
    if (s.def.group === "" && s.def.plural === "namespaces") {
      for (const d of Array.from(this.objects.values()))
        if (d.def.namespaced && meta(d.obj).namespace === m.name && !meta(d.obj).deletionTimestamp)
          this.delete(d.def, String(meta(d.obj).namespace), String(meta(d.obj).name));
      return;
    }
    if (!this.gc) return;
    if (this.objects.has(this.key(s.def, m.namespace as string | undefined, String(m.name)))) return; // still there (finalizers)
    const uids = new Set(Array.from(this.objects.values(), (x) => meta(x.obj).uid));
    for (const d of Array.from(this.objects.values())) {
      const refs = meta(d.obj).ownerReferences;
      if (!Array.isArray(refs) || !refs.some((r) => isObject(r) && r.uid === m.uid)) continue;
      if (refs.some((r) => isObject(r) && uids.has(r.uid as string))) continue;
      if (!meta(d.obj).deletionTimestamp)
        this.delete(d.def, meta(d.obj).namespace as string | undefined, String(meta(d.obj).name));
    }
  }
}
