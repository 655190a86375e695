import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { KubeConfig } from "@kubernetes/client-node";
import { parse as parseYaml } from "yaml";
import { isObject, jsonPatch, mergePatch, PatchError, type Json, type JsonObject } from "./fields.js";
import { apiVersionOf, type ResourceDef } from "./resources.js";
import {
  ApiError,
  FakeStore,
  type KubeObject,
  type ObjectRef,
  type StoreEvent,
  type StoreOptions,
  type WriteRecord,
} from "./store.js";

export interface FailureSpec {
  /** HTTP status to answer with: 500 (InternalError), 429 (TooManyRequests), 503, ... Default 500. */
  code?: number;
  /** Sent as Retry-After (and details.retryAfterSeconds) with 429/503. */
  retryAfterSeconds?: number;
  /** Only requests this returns true for consume the failure (default: every request, watches included). */
  match?: (req: { method: string; path: string; watch: boolean }) => boolean;
}

export interface FakeKubeApiOptions extends StoreOptions {
  /** Port on 127.0.0.1; default 0 (a free port). */
  port?: number;
  /**
   * When a watch's response headers go out. kube-apiserver flushes them as soon as the watch is set up
   * ("immediately", the default); "with-first-event" holds them until the first event, as a buffering
   * proxy can, so clients can be tested against a watch that has not begun answering.
   */
  watchHeaders?: "immediately" | "with-first-event";
}

export type RequestVerb = "create" | "update" | "patch" | "apply" | "delete";

export interface KubeConfigOptions {
  clusters: { name: string; server: string; skipTLSVerify: boolean }[];
  users: { name: string; token: string }[];
  contexts: { name: string; cluster: string; user: string; namespace: string }[];
  currentContext: string;
}

export interface FakeKubeApi {
  /** `http://127.0.0.1:<port>` */
  url: string;
  /** Options for `new KubeConfig().loadFromOptions(...)` (server url, skipTLSVerify: true). */
  kubeConfigOptions(namespace?: string): KubeConfigOptions;
  /** A ready `@kubernetes/client-node` KubeConfig pointing at the fake (imports client-node lazily). */
  kubeConfig(namespace?: string): Promise<KubeConfig>;
  /** Direct access to objects, bypassing HTTP (not counted as requests or writes). */
  store: {
    get(ref: ObjectRef): KubeObject | undefined;
    list(apiVersion: string, kind: string, namespace?: string): KubeObject[];
    /** Create or replace verbatim (status included); emits a watch event. */
    put(object: KubeObject): KubeObject;
    /** Remove immediately, ignoring finalizers; emits DELETED. */
    remove(ref: ObjectRef): boolean;
    /** The current global resourceVersion. */
    resourceVersion(): number;
    register(def: ResourceDef): void;
  };
  /** Accepted write requests in order, each with `changed` (false = no-op, no resourceVersion bump). */
  writeLog(): readonly WriteRecord[];
  /** Writes that changed something, per verb (status-subresource writes are included under their verb). */
  writes(): Record<RequestVerb, number> & { total: number };
  /** Every mutating HTTP request received (failed, rejected and no-op ones included), per verb. */
  mutatingRequests(): Record<RequestVerb, number> & { total: number };
  /** Zero the write log and the request counters. */
  resetCounts(): void;
  /** The next `count` matching requests fail with `spec.code` (default 500). */
  failNext(count: number, spec?: FailureSpec): void;
  /** Close every open watch: abruptly (socket reset, default) or gracefully (end of stream). */
  dropWatches(opts?: { graceful?: boolean }): number;
  /** Number of open watch connections. */
  openWatches(): number;
  /** Send a BOOKMARK with the current resourceVersion to watches that asked for bookmarks. */
  sendBookmarks(): void;
  /** Drop all retained watch events: watches from any earlier resourceVersion get 410 Gone. */
  compact(): void;
  close(): Promise<void>;
}

interface Watcher {
  res: ServerResponse;
  def: ResourceDef;
  namespace?: string;
  match: (o: KubeObject) => boolean;
  bookmarks: boolean;
}

const emptyCounts = (): Record<RequestVerb, number> => ({ create: 0, update: 0, patch: 0, apply: 0, delete: 0 });

function send(res: ServerResponse, code: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(code, { "content-type": "application/json", "content-length": Buffer.byteLength(text), ...headers });
  res.end(text);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

function parseJson(text: string): Json {
  try {
    return JSON.parse(text) as Json;
  } catch (e) {
    throw new ApiError(400, "BadRequest", `the body of the request could not be decoded: ${(e as Error).message}`);
  }
}

function objectBody(v: Json): JsonObject {
  if (!isObject(v)) throw new ApiError(400, "BadRequest", "the body of the request must be an object");
  return v;
}

// ---- selectors ---------------------------------------------------------------------------------------------------

type Pred = (labels: Record<string, string>) => boolean;

function splitTerms(sel: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = "";
  for (const ch of sel) {
    if (ch === "(") depth++;
    if (ch === ")") depth--;
    if (ch === "," && depth === 0) {
      out.push(cur);
      cur = "";
    } else cur += ch;
  }
  if (cur.trim()) out.push(cur);
  return out.map((t) => t.trim()).filter(Boolean);
}

export function parseLabelSelector(sel: string): Pred {
  const preds: Pred[] = splitTerms(sel).map((t) => {
    let m = /^([^\s!=]+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(t);
    if (m) {
      const [, k, op, vs] = m as unknown as [string, string, string, string];
      const set = new Set(vs.split(",").map((v) => v.trim()));
      return op === "in" ? (l) => l[k] !== undefined && set.has(l[k]!) : (l) => l[k] === undefined || !set.has(l[k]!);
    }
    m = /^([^\s!=]+)\s*(==|=|!=)\s*(\S*)$/.exec(t);
    if (m) {
      const [, k, op, v] = m as unknown as [string, string, string, string];
      return op === "!=" ? (l) => l[k] !== v : (l) => l[k] === v;
    }
    if (t.startsWith("!")) return (l) => l[t.slice(1)] === undefined;
    return (l) => l[t] !== undefined;
  });
  return (l) => preds.every((p) => p(l));
}

function objectMatcher(labelSelector: string | null, fieldSelector: string | null): (o: KubeObject) => boolean {
  const lp = labelSelector ? parseLabelSelector(labelSelector) : () => true;
  const fields = (fieldSelector ? splitTerms(fieldSelector) : []).map((t) => {
    const m = /^([^!=]+)(==|=|!=)(.*)$/.exec(t);
    if (!m) throw new ApiError(400, "BadRequest", `invalid field selector: ${t}`);
    const [, path, op, v] = m as unknown as [string, string, string, string];
    if (!["metadata.name", "metadata.namespace"].includes(path))
      throw new ApiError(400, "BadRequest", `field label not supported: ${path}`);
    const key = path.split(".")[1]!;
    return (o: KubeObject) => (String(o.metadata?.[key] ?? "") === v) !== (op === "!=");
  });
  return (o) => {
    const labels = isObject(o.metadata?.labels) ? (o.metadata.labels as Record<string, string>) : {};
    return lp(labels) && fields.every((f) => f(o));
  };
}

// ---- discovery ---------------------------------------------------------------------------------------------------

function resourceList(store: FakeStore, group: string, version: string): JsonObject | undefined {
  const defs = store.resources().filter((d) => d.group === group && d.version === version);
  if (!defs.length) return undefined;
  const resources: Json[] = [];
  for (const d of defs) {
    resources.push({
      name: d.plural,
      singularName: d.singular ?? d.kind.toLowerCase(),
      namespaced: d.namespaced,
      kind: d.kind,
      verbs: ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"],
      ...(d.shortNames ? { shortNames: d.shortNames } : {}),
    });
    if (d.statusSubresource)
      resources.push({
        name: `${d.plural}/status`,
        singularName: "",
        namespaced: d.namespaced,
        kind: d.kind,
        verbs: ["get", "patch", "update"],
      });
  }
  return {
    kind: "APIResourceList",
    apiVersion: "v1",
    groupVersion: group ? `${group}/${version}` : version,
    resources,
  };
}

function apiGroup(store: FakeStore, group: string): JsonObject | undefined {
  const versions = Array.from(
    new Set(
      store
        .resources()
        .filter((d) => d.group === group)
        .map((d) => d.version),
    ),
  );
  if (!versions.length) return undefined;
  const vs = versions.map((v) => ({ groupVersion: `${group}/${v}`, version: v }));
  return { name: group, versions: vs, preferredVersion: vs[0]! };
}

// ---- the server --------------------------------------------------------------------------------------------------

export async function startFakeKubeApi(opts: FakeKubeApiOptions = {}): Promise<FakeKubeApi> {
  const store = new FakeStore(opts);
  const watchers = new Set<Watcher>();
  const failures: { spec: FailureSpec }[] = [];
  let requests = emptyCounts();

  const writeEvent = (w: Watcher, type: string, object: Json): void => {
    w.res.write(JSON.stringify({ type, object }) + "\n");
  };

  store.subscribe((ev: StoreEvent) => {
    for (const w of watchers) {
      if (w.def.group !== ev.def.group || w.def.plural !== ev.def.plural) continue;
      if (w.namespace !== undefined && ev.namespace !== w.namespace) continue;
      if (!w.match(ev.object)) continue;
      writeEvent(w, ev.type, { ...ev.object, apiVersion: apiVersionOf(w.def) });
    }
  });

  function startWatch(
    req: IncomingMessage,
    res: ServerResponse,
    def: ResourceDef,
    ns: string | undefined,
    q: URLSearchParams,
  ): void {
    const match = objectMatcher(q.get("labelSelector"), q.get("fieldSelector"));
    const rvParam = q.get("resourceVersion");
    let replay: { type: string; object: KubeObject }[];
    if (rvParam === null || rvParam === "" || rvParam === "0") {
      replay = store
        .items(def, ns)
        .filter(match)
        .map((object) => ({ type: "ADDED", object }));
    } else {
      const since = store.eventsSince(Number(rvParam));
      if (!since) {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(
          JSON.stringify({
            type: "ERROR",
            object: new ApiError(
              410,
              "Expired",
              `too old resource version: ${rvParam} (${store.oldestRetainedRv + 1})`,
            ).toStatus(),
          }) + "\n",
        );
        return;
      }
      replay = since
        .filter(
          (e) =>
            e.def.group === def.group &&
            e.def.plural === def.plural &&
            (ns === undefined || e.namespace === ns) &&
            match(e.object),
        )
        .map((e) => ({ type: e.type, object: { ...e.object, apiVersion: apiVersionOf(def) } }));
    }
    res.writeHead(200, { "content-type": "application/json" });
    if (opts.watchHeaders !== "with-first-event") res.flushHeaders();
    const w: Watcher = {
      res,
      def,
      ...(ns !== undefined ? { namespace: ns } : {}),
      match,
      bookmarks: q.get("allowWatchBookmarks") === "true",
    };
    for (const e of replay) writeEvent(w, e.type, e.object);
    watchers.add(w);
    const timeout = Number(q.get("timeoutSeconds") ?? 0);
    const timer = timeout > 0 ? setTimeout(() => res.end(), timeout * 1000) : undefined;
    const cleanup = (): void => {
      watchers.delete(w);
      if (timer) clearTimeout(timer);
    };
    res.on("close", cleanup);
    req.on("close", cleanup);
  }

  function listObjects(def: ResourceDef, ns: string | undefined, q: URLSearchParams): JsonObject {
    const match = objectMatcher(q.get("labelSelector"), q.get("fieldSelector"));
    let items = store.items(def, ns).filter(match);
    const limit = Number(q.get("limit") ?? 0);
    const cont = q.get("continue");
    if (cont) {
      const after = Buffer.from(cont, "base64url").toString("utf8");
      items = items.filter((o) => `${String(o.metadata?.namespace ?? "")}/${String(o.metadata?.name)}` > after);
    }
    let next = "";
    if (limit > 0 && items.length > limit) {
      items = items.slice(0, limit);
      const last = items[items.length - 1]!;
      next = Buffer.from(`${String(last.metadata?.namespace ?? "")}/${String(last.metadata?.name)}`).toString(
        "base64url",
      );
    }
    if (!def.custom)
      items = items.map((o) => {
        const rest = { ...o };
        delete rest.apiVersion;
        delete rest.kind;
        return rest;
      });
    return {
      kind: `${def.kind}List`,
      apiVersion: apiVersionOf(def),
      metadata: { resourceVersion: String(store.resourceVersion), ...(next ? { continue: next } : {}) },
      items,
    };
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://localhost");
    const q = url.searchParams;
    const method = (req.method ?? "GET").toUpperCase();
    const parts = url.pathname.split("/").filter(Boolean).map(decodeURIComponent);
    const isWatch = q.get("watch") === "true" || q.get("watch") === "1";

    const idx = failures.findIndex(
      (f) => !f.spec.match || f.spec.match({ method, path: url.pathname, watch: isWatch }),
    );
    if (idx >= 0) {
      const { spec } = failures.splice(idx, 1)[0]!;
      const code = spec.code ?? 500;
      if (["POST", "PUT", "PATCH", "DELETE"].includes(method)) countRequest(method, req, parts);
      const reason =
        code === 429
          ? "TooManyRequests"
          : code === 503
            ? "ServiceUnavailable"
            : code === 504
              ? "Timeout"
              : "InternalError";
      const err = new ApiError(
        code,
        reason,
        `kube-fake: injected failure (${code})`,
        spec.retryAfterSeconds !== undefined ? { retryAfterSeconds: spec.retryAfterSeconds } : undefined,
      );
      send(
        res,
        code,
        err.toStatus(),
        spec.retryAfterSeconds !== undefined ? { "retry-after": String(spec.retryAfterSeconds) } : {},
      );
      return;
    }

    // discovery and health
    if (method === "GET") {
      const p = parts.join("/");
      if (p === "version")
        return send(res, 200, { major: "1", minor: "32", gitVersion: "v1.32.0-kube-fake", platform: "linux/amd64" });
      if (p === "healthz" || p === "readyz" || p === "livez") {
        res.writeHead(200, { "content-type": "text/plain" });
        res.end("ok");
        return;
      }
      if (p === "api") return send(res, 200, { kind: "APIVersions", versions: ["v1"], serverAddressByClientCIDRs: [] });
      if (p === "apis") {
        const groups = Array.from(
          new Set(
            store
              .resources()
              .map((d) => d.group)
              .filter(Boolean),
          ),
        );
        return send(res, 200, {
          kind: "APIGroupList",
          apiVersion: "v1",
          groups: groups.map((g) => apiGroup(store, g)!),
        });
      }
      if (parts.length === 2 && parts[0] === "api") {
        const list = resourceList(store, "", parts[1]!);
        if (list) return send(res, 200, list);
      }
      if (parts.length === 2 && parts[0] === "apis") {
        const g = apiGroup(store, parts[1]!);
        if (g) return send(res, 200, { kind: "APIGroup", apiVersion: "v1", ...g });
      }
      if (parts.length === 3 && parts[0] === "apis") {
        const list = resourceList(store, parts[1]!, parts[2]!);
        if (list) return send(res, 200, list);
      }
    }

    const route = resolve(parts);
    if (!route) throw new ApiError(404, "NotFound", "the server could not find the requested resource");
    const { def, ns, name, sub } = route;
    const manager = q.get("fieldManager") ?? userAgentManager(req);
    const dryRun = q.get("dryRun") === "All";
    const wopts = { manager, ...(sub ? { subresource: sub } : {}), ...(dryRun ? { dryRun } : {}) };

    if (["POST", "PUT", "PATCH", "DELETE"].includes(method)) countRequest(method, req, parts);

    if (method === "GET") {
      if (name === undefined) {
        if (isWatch) return startWatch(req, res, def, ns, q);
        return send(res, 200, listObjects(def, ns, q));
      }
      return send(res, 200, store.read(def, ns, name));
    }
    if (method === "POST" && name === undefined) {
      const body = objectBody(parseJson(await readBody(req)));
      return send(res, 201, store.create(def, ns, body, wopts).object);
    }
    if (method === "PUT" && name !== undefined) {
      const body = objectBody(parseJson(await readBody(req)));
      return send(res, 200, store.update(def, ns, name, body, wopts).object);
    }
    if (method === "PATCH" && name !== undefined) {
      const ctype = (req.headers["content-type"] ?? "").split(";")[0]!.trim();
      const text = await readBody(req);
      if (ctype === "application/apply-patch+yaml" || ctype === "application/apply-patch+json") {
        let body: Json;
        try {
          body = parseYaml(text) as Json;
        } catch (e) {
          throw new ApiError(400, "BadRequest", `error decoding YAML: ${(e as Error).message}`);
        }
        const force = q.get("force") === "true";
        const r = store.apply(def, ns, name, objectBody(body), {
          ...wopts,
          manager: q.get("fieldManager") ?? "",
          force,
        });
        return send(res, r.created ? 201 : 200, r.object);
      }
      if (q.get("force") !== null) throw new ApiError(400, "BadRequest", "force is only allowed for apply patches");
      let fn: (live: KubeObject) => JsonObject;
      if (
        ctype === "application/merge-patch+json" ||
        (ctype === "application/strategic-merge-patch+json" && !def.custom)
      ) {
        const patch = parseJson(text);
        fn = (live) => objectBody(mergePatch(live, patch));
      } else if (ctype === "application/json-patch+json") {
        const ops = parseJson(text);
        fn = (live) => {
          try {
            return objectBody(jsonPatch(live, ops));
          } catch (e) {
            if (e instanceof PatchError)
              throw new ApiError(
                422,
                "Invalid",
                `the server rejected our request due to an error in our request: ${e.message}`,
              );
            throw e;
          }
        };
      } else {
        throw new ApiError(
          415,
          "UnsupportedMediaType",
          `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml${def.custom ? "" : ", application/strategic-merge-patch+json"}`,
        );
      }
      // a patch without resourceVersion is unconditional; one that sets it is a precondition
      const wrapped = (live: KubeObject): JsonObject => {
        const liveRv = live.metadata?.resourceVersion;
        const out = fn(live);
        const m = isObject(out.metadata) ? out.metadata : {};
        if (m.resourceVersion === undefined || m.resourceVersion === null)
          out.metadata = { ...m, resourceVersion: liveRv ?? null };
        return out;
      };
      return send(res, 200, store.update(def, ns, name, wrapped, { ...wopts, verb: "patch" }).object);
    }
    if (method === "DELETE") {
      const text = await readBody(req);
      const body = text.trim() ? parseJson(text) : {};
      const pre = isObject(body) && isObject(body.preconditions) ? body.preconditions : {};
      if (name === undefined) {
        const match = objectMatcher(q.get("labelSelector"), q.get("fieldSelector"));
        const items = store.items(def, ns).filter(match);
        for (const o of items)
          store.delete(def, ns ?? (o.metadata?.namespace as string | undefined), String(o.metadata?.name), { dryRun });
        return send(res, 200, { kind: "Status", apiVersion: "v1", metadata: {}, status: "Success" });
      }
      const r = store.delete(def, ns, name, {
        ...(dryRun ? { dryRun } : {}),
        preconditions: {
          ...(typeof pre.resourceVersion === "string" ? { resourceVersion: pre.resourceVersion } : {}),
          ...(typeof pre.uid === "string" ? { uid: pre.uid } : {}),
        },
      });
      if (!r.removed || def.custom) return send(res, 200, r.object);
      return send(res, 200, {
        kind: "Status",
        apiVersion: "v1",
        metadata: {},
        status: "Success",
        details: { name, group: def.group, kind: def.plural, uid: r.object.metadata?.uid ?? "" },
      });
    }
    throw new ApiError(405, "MethodNotAllowed", `the server does not allow this method on the requested resource`);
  }

  function countRequest(method: string, req: IncomingMessage, _parts: string[]): void {
    const ctype = String(req.headers["content-type"] ?? "");
    const verb: RequestVerb =
      method === "POST"
        ? "create"
        : method === "PUT"
          ? "update"
          : method === "DELETE"
            ? "delete"
            : ctype.startsWith("application/apply-patch")
              ? "apply"
              : "patch";
    requests[verb]++;
  }

  function userAgentManager(req: IncomingMessage): string {
    const ua = String(req.headers["user-agent"] ?? "");
    return ua ? ua.split("/")[0]! : "unknown";
  }

  function resolve(parts: string[]): { def: ResourceDef; ns?: string; name?: string; sub?: string } | undefined {
    let group: string;
    let version: string;
    let rest: string[];
    if (parts[0] === "api" && parts.length >= 3) {
      group = "";
      version = parts[1]!;
      rest = parts.slice(2);
    } else if (parts[0] === "apis" && parts.length >= 4) {
      group = parts[1]!;
      version = parts[2]!;
      rest = parts.slice(3);
    } else return undefined;
    let ns: string | undefined;
    if (rest[0] === "namespaces" && rest.length >= 3 && store.findDef(group, version, rest[2]!)?.namespaced) {
      ns = rest[1]!;
      rest = rest.slice(2);
    }
    const def = store.findDef(group, version, rest[0]!);
    if (!def || rest.length > 3) return undefined;
    if (def.namespaced && ns === undefined && rest.length > 1) return undefined;
    if (!def.namespaced && ns !== undefined) return undefined;
    const name = rest[1];
    const sub = rest[2];
    if (sub !== undefined && !(sub === "status" && def.statusSubresource)) return undefined;
    return {
      def,
      ...(ns !== undefined ? { ns } : {}),
      ...(name !== undefined ? { name } : {}),
      ...(sub !== undefined ? { sub } : {}),
    };
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (e instanceof ApiError) send(res, e.code, e.toStatus());
      else
        send(res, 500, new ApiError(500, "InternalError", `kube-fake: ${(e as Error)?.stack ?? String(e)}`).toStatus());
    });
  });
  await new Promise<void>((resolveListen, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 0, "127.0.0.1", () => resolveListen());
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const kubeConfigOptions = (namespace = "default"): KubeConfigOptions => ({
    clusters: [{ name: "kube-fake", server: url, skipTLSVerify: true }],
    users: [{ name: "kube-fake", token: "kube-fake" }],
    contexts: [{ name: "kube-fake", cluster: "kube-fake", user: "kube-fake", namespace }],
    currentContext: "kube-fake",
  });

  const count = (rec: Record<RequestVerb, number>): Record<RequestVerb, number> & { total: number } => ({
    ...rec,
    total: Object.values(rec).reduce((a, b) => a + b, 0),
  });

  return {
    url,
    kubeConfigOptions,
    async kubeConfig(namespace?: string) {
      const k8s = await import("@kubernetes/client-node");
      const kc = new k8s.KubeConfig();
      kc.loadFromOptions(kubeConfigOptions(namespace));
      return kc;
    },
    store: {
      get(ref) {
        const def = store.defForKind(ref.apiVersion, ref.kind);
        try {
          return store.read(def, def.namespaced ? (ref.namespace ?? "default") : undefined, ref.name);
        } catch (e) {
          if (e instanceof ApiError && e.code === 404) return undefined;
          throw e;
        }
      },
      list: (apiVersion, kind, namespace) => store.items(store.defForKind(apiVersion, kind), namespace),
      put: (o) => store.put(o),
      remove: (ref) => store.remove(ref),
      resourceVersion: () => store.resourceVersion,
      register: (d) => store.register(d),
    },
    writeLog: () => store.log,
    writes() {
      const c = emptyCounts();
      for (const r of store.log) if (r.changed) c[r.verb]++;
      return count(c);
    },
    mutatingRequests: () => count(requests),
    resetCounts() {
      store.log.length = 0;
      requests = emptyCounts();
    },
    failNext(n, spec = {}) {
      for (let i = 0; i < n; i++) failures.push({ spec });
    },
    dropWatches(o = {}) {
      const n = watchers.size;
      for (const w of Array.from(watchers)) {
        watchers.delete(w);
        if (o.graceful) w.res.end();
        else w.res.destroy();
      }
      return n;
    },
    openWatches: () => watchers.size,
    sendBookmarks() {
      const rv = String(store.resourceVersion);
      for (const w of watchers)
        if (w.bookmarks)
          writeEvent(w, "BOOKMARK", {
            kind: w.def.kind,
            apiVersion: apiVersionOf(w.def),
            metadata: { resourceVersion: rv },
          });
    },
    compact: () => store.compact(),
    async close() {
      for (const w of Array.from(watchers)) w.res.destroy();
      watchers.clear();
      await new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      });
    },
  };
}
