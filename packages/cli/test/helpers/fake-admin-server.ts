import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { JOB_STATES, TERMINAL_STATES, type ComponentStatus, type DeadLetterRecord, type JobEvent, type JobRecord, type JobState } from "@tessera/coordinator";

/**
 * A stand-in for the coordinator's admin API (docs/admin-api.md) with in-memory state, until the CLI tests
 * run against createCoordinator + startAdminServer. It answers the documented routes with the documented
 * shapes and error bodies, records every request, and lets a test move jobs between states (each move is
 * pushed to open event streams, as the coordinator does).
 */
export interface FakeAdminServer {
  url: string;
  /** Every request: method, path with query, parsed JSON body. */
  requests: { method: string; url: string; body: unknown }[];
  jobs: Map<string, JobRecord>;
  deadLetters: DeadLetterRecord[];
  /** Open `/api/v1/events` connections. */
  subscribers(): number;
  /** Adds a job as if it had been submitted earlier. */
  addJob(partial: Partial<JobRecord> & { jobId: string; component: string }): JobRecord;
  setState(jobId: string, state: JobState, reasonCode?: string): void;
  /** Called after each created job; return a final state to have it reach it right away. */
  onSubmit?: (job: JobRecord) => { state: JobState; reasonCode?: string } | undefined;
  /** Return issues to answer a submit with 400 invalid_request. */
  rejectSubmit?: (body: SubmitBody) => { path: string; expected: string; received: string }[] | undefined;
  close(): Promise<void>;
}

export interface SubmitBody {
  component: string;
  input: { json?: unknown; text?: string; base64?: string };
  idempotencyKey?: string;
  metadata?: Record<string, string>;
}

export function componentStatus(name: string, overrides: Partial<ComponentStatus> = {}): ComponentStatus {
  const jobs = Object.fromEntries(JOB_STATES.map((s) => [s, 0])) as Record<JobState, number>;
  return {
    name,
    state: "declared",
    summary: "declared, no healthy instance",
    healthyInstances: 0,
    instances: [],
    queueDepth: { pending: 0, ackPending: 0, total: 0 },
    jobs,
    limits: null,
    ...overrides,
  };
}

function jobRecord(partial: Partial<JobRecord> & { jobId: string; component: string }): JobRecord {
  const now = new Date().toISOString();
  return {
    state: "pending",
    limitKey: null,
    idempotencyKey: null,
    envelope: { schema_version: "1", job_id: partial.jobId, component: partial.component, content_type: "application/json", limits: { max_bytes: 1, wall_clock: 1 }, input: { inline: null } } as unknown as JobRecord["envelope"],
    attempts: 0,
    dispatches: 1,
    redrives: 0,
    reasonCode: null,
    reasonDetail: null,
    output: null,
    instanceId: null,
    durationMs: null,
    duplicateResults: 0,
    createdAt: now,
    dispatchedAt: null,
    finishedAt: null,
    updatedAt: now,
    ...partial,
  };
}

const send = (res: ServerResponse, status: number, body: unknown): void => {
  res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
};
const fail = (res: ServerResponse, status: number, code: string, message: string, issues?: unknown[]): void =>
  send(res, status, { error: { code, message, ...(issues !== undefined ? { issues } : {}) } });

async function readBody(req: IncomingMessage): Promise<unknown> {
  let text = "";
  for await (const chunk of req) text += String(chunk);
  return text === "" ? undefined : JSON.parse(text);
}

/** Offset cursors over `items`: enough to exercise `--cursor` and `--all`. */
function page<T>(items: T[], query: URLSearchParams): { items: T[]; nextCursor: string | null } {
  const offset = Number(query.get("cursor") ?? "0");
  const limit = Number(query.get("limit") ?? "50");
  const slice = items.slice(offset, offset + limit);
  return { items: slice, nextCursor: offset + limit < items.length ? String(offset + limit) : null };
}

export async function startFakeAdminServer(components: ComponentStatus[]): Promise<FakeAdminServer> {
  const jobs = new Map<string, JobRecord>();
  const keys = new Map<string, string>();
  const deadLetters: DeadLetterRecord[] = [];
  const requests: FakeAdminServer["requests"] = [];
  const streams = new Set<{ res: ServerResponse; component: string | null; jobId: string | null }>();
  let counter = 0;

  const emit = (job: JobRecord): void => {
    const event: JobEvent = { jobId: job.jobId, component: job.component, state: job.state, reasonCode: job.reasonCode, at: job.updatedAt };
    for (const s of streams) {
      if ((s.component === null || s.component === job.component) && (s.jobId === null || s.jobId === job.jobId)) {
        s.res.write(`event: job\ndata: ${JSON.stringify(event)}\n\n`);
      }
    }
  };
  const setState = (jobId: string, state: JobState, reasonCode?: string): void => {
    const job = jobs.get(jobId);
    if (job === undefined) throw new Error(`no job ${jobId}`);
    const updated = { ...job, state, reasonCode: reasonCode ?? null, updatedAt: new Date().toISOString(), ...(TERMINAL_STATES.includes(state) ? { finishedAt: new Date().toISOString(), attempts: 1 } : {}) };
    jobs.set(jobId, updated);
    emit(updated);
  };
  const known = (name: string): boolean => components.some((c) => c.name === name);

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? "/", "http://fake");
    const body = await readBody(req);
    requests.push({ method: req.method ?? "", url: `${url.pathname}${url.search}`, body });
    const route = `${req.method} ${url.pathname}`;
    let m: RegExpMatchArray | null;

    if (route === "GET /api/v1/components") return send(res, 200, { items: components });
    if ((m = route.match(/^GET \/api\/v1\/components\/([^/]+)$/))) {
      const c = components.find((x) => x.name === decodeURIComponent(m?.[1] ?? ""));
      return c === undefined ? fail(res, 404, "not_found", `no component named "${m[1]}"`) : send(res, 200, c);
    }
    if (route === "POST /api/v1/jobs") {
      const b = body as SubmitBody;
      const issues = server.rejectSubmit?.(b);
      if (issues !== undefined) return fail(res, 400, "invalid_request", "invalid request", issues);
      if (!known(b.component)) return fail(res, 404, "not_found", `no component named "${b.component}"`);
      const existing = b.idempotencyKey !== undefined ? keys.get(`${b.component}/${b.idempotencyKey}`) : undefined;
      if (existing !== undefined) return send(res, 200, { jobId: existing, created: false, state: jobs.get(existing)?.state });
      const job = jobRecord({ jobId: `job-${++counter}`, component: b.component, idempotencyKey: b.idempotencyKey ?? null });
      jobs.set(job.jobId, job);
      if (b.idempotencyKey !== undefined) keys.set(`${b.component}/${b.idempotencyKey}`, job.jobId);
      send(res, 201, { jobId: job.jobId, created: true, state: job.state });
      const final = server.onSubmit?.(job);
      if (final !== undefined) setTimeout(() => setState(job.jobId, final.state, final.reasonCode), 20);
      return;
    }
    if (route === "GET /api/v1/jobs") {
      const state = url.searchParams.get("state");
      if (state !== null && !(JOB_STATES as readonly string[]).includes(state)) {
        return fail(res, 400, "invalid_request", "invalid request", [{ path: "querystring.state", expected: "a job state", received: state }]);
      }
      const component = url.searchParams.get("component");
      const all = [...jobs.values()].filter((j) => (component === null || j.component === component) && (state === null || j.state === state)).reverse();
      return send(res, 200, page(all, url.searchParams));
    }
    if ((m = route.match(/^GET \/api\/v1\/jobs\/([^/]+)$/))) {
      const job = jobs.get(decodeURIComponent(m[1] ?? ""));
      return job === undefined ? fail(res, 404, "not_found", `no job "${m[1]}"`) : send(res, 200, job);
    }
    if ((m = route.match(/^POST \/api\/v1\/jobs\/([^/]+)\/cancel$/))) {
      const job = jobs.get(decodeURIComponent(m[1] ?? ""));
      if (job === undefined) return fail(res, 404, "not_found", `no job "${m[1]}"`);
      if (TERMINAL_STATES.includes(job.state)) return fail(res, 409, "conflict", `job "${job.jobId}" is already ${job.state}; only pending or queued jobs can be cancelled`);
      setState(job.jobId, "cancelled");
      return send(res, 200, { job: jobs.get(job.jobId) });
    }
    if (route === "GET /api/v1/events") {
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.write(": subscribed\n\n");
      const s = { res, component: url.searchParams.get("component"), jobId: url.searchParams.get("jobId") };
      streams.add(s);
      res.on("close", () => streams.delete(s));
      return;
    }
    if (route === "GET /api/v1/dlq") {
      const component = url.searchParams.get("component");
      return send(res, 200, page(deadLetters.filter((d) => component === null || d.component === component), url.searchParams));
    }
    if ((m = route.match(/^POST \/api\/v1\/dlq\/([^/]+)\/redrive$/))) {
      const job = jobs.get(decodeURIComponent(m[1] ?? ""));
      if (job === undefined) return fail(res, 404, "not_found", `no job "${m[1]}"`);
      const letter = deadLetters.find((d) => d.jobId === job.jobId && d.redrivenAt === null);
      if (letter === undefined) return fail(res, 409, "conflict", `job "${job.jobId}" is ${job.state}; only dead-lettered failed jobs can be redriven`);
      letter.redrivenAt = new Date().toISOString();
      setState(job.jobId, "pending");
      return send(res, 200, { job: jobs.get(job.jobId) });
    }
    if (route === "POST /api/v1/dlq/redrive") {
      const component = (body as { component?: string } | undefined)?.component;
      if (component === undefined || !known(component)) return fail(res, 404, "not_found", `no component named "${component}"`);
      const ids: string[] = [];
      for (const letter of deadLetters.filter((d) => d.component === component && d.redrivenAt === null)) {
        letter.redrivenAt = new Date().toISOString();
        if (jobs.has(letter.jobId)) setState(letter.jobId, "pending");
        ids.push(letter.jobId);
      }
      return send(res, 200, { jobIds: ids });
    }
    fail(res, 404, "not_found", `no route ${route}`);
  };

  const http = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => fail(res, 500, "internal", String(err)));
  });
  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
  const server: FakeAdminServer = {
    url: `http://127.0.0.1:${(http.address() as AddressInfo).port}`,
    requests,
    jobs,
    deadLetters,
    subscribers: () => streams.size,
    addJob(partial) {
      const job = jobRecord(partial);
      jobs.set(job.jobId, job);
      return job;
    },
    setState,
    async close() {
      for (const s of streams) s.res.end();
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
  return server;
}
