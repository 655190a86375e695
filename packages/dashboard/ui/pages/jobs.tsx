import type { JSX } from "preact";
import { Pager, useCursorPages } from "../components/pager.js";
import { api, ok, JOB_STATES, type JobRecord, type JobState } from "../api/client.js";
import { ComponentSelect, Empty, ErrorNote, Loading, StateBadge, Time } from "../components/ui.js";
import { duration, shortId } from "../format.js";
import { useJobEvents, useResource } from "../live.js";
import { Link, navigate, queryString, useRoute } from "../router.js";

const PAGE_SIZE = 25;
const RANGES: Record<string, { label: string; ms?: number }> = {
  "": { label: "any time" },
  "15m": { label: "last 15 minutes", ms: 15 * 60_000 },
  "1h": { label: "last hour", ms: 3_600_000 },
  "24h": { label: "last 24 hours", ms: 86_400_000 },
  "7d": { label: "last 7 days", ms: 7 * 86_400_000 },
  custom: { label: "between…" },
};

interface Filters {
  component: string;
  state: string;
  key: string;
  range: string;
  from: string;
  to: string;
}

function filtersOf(query: URLSearchParams): Filters {
  const get = (name: string) => query.get(name) ?? "";
  return {
    component: get("component"),
    state: get("state"),
    key: get("key"),
    range: get("range"),
    from: get("from"),
    to: get("to"),
  };
}

/** datetime-local values are local times without a zone; the API wants RFC 3339. */
function isoOfLocal(value: string): string | undefined {
  if (value === "") return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : new Date(ms).toISOString();
}

function timeRange(f: Filters): { createdAfter?: string; createdBefore?: string } {
  if (f.range === "custom") {
    const after = isoOfLocal(f.from);
    const before = isoOfLocal(f.to);
    return {
      ...(after !== undefined ? { createdAfter: after } : {}),
      ...(before !== undefined ? { createdBefore: before } : {}),
    };
  }
  const ms = RANGES[f.range]?.ms;
  return ms === undefined ? {} : { createdAfter: new Date(Date.now() - ms).toISOString() };
}

function JobRow(props: { job: JobRecord }): JSX.Element {
  const j = props.job;
  return (
    <tr data-job-id={j.jobId} data-testid="job-row">
      <td>
        <Link href={`/jobs/${j.jobId}`} title={j.jobId}>
          <code>{shortId(j.jobId)}</code>
        </Link>
      </td>
      <td>{j.component}</td>
      <td>
        <StateBadge state={j.state} />
      </td>
      <td>{j.limitKey ?? <span class="muted">—</span>}</td>
      <td class="num">{j.attempts}</td>
      <td class="reason" title={j.reasonDetail ?? undefined}>
        {j.reasonCode !== null ? <code>{j.reasonCode}</code> : <span class="muted">—</span>}
      </td>
      <td>
        <Time at={j.createdAt} />
      </td>
      <td class="num">{duration(j.durationMs)}</td>
    </tr>
  );
}

export function JobsPage(): JSX.Element {
  const { query } = useRoute();
  const filters = filtersOf(query);
  const filterKey = JSON.stringify(filters);
  // New filters start from the newest page.
  const pages = useCursorPages(filterKey);
  const { cursor } = pages;
  const components = useResource(() => ok(api.GET("/api/v1/components")), "components");
  const jobs = useResource(
    () =>
      ok(
        api.GET("/api/v1/jobs", {
          params: {
            query: {
              limit: PAGE_SIZE,
              ...(filters.component !== "" ? { component: filters.component } : {}),
              ...(filters.state !== "" ? { state: filters.state as JobState } : {}),
              ...(filters.key !== "" ? { key: filters.key } : {}),
              ...timeRange(filters),
              ...(cursor !== undefined ? { cursor } : {}),
            },
          },
        }),
      ),
    `${filterKey}|${cursor ?? ""}`,
  );
  useJobEvents(jobs.reload, (e) => filters.component === "" || e.component === filters.component, 500);

  const set = (change: Partial<Filters>): void => {
    const next = { ...filters, ...change };
    navigate(`/jobs${queryString({ ...next })}`, { replace: true });
  };
  const items = jobs.data?.items;
  const anyFilter = Object.values(filters).some((v) => v !== "");
  return (
    <section>
      <div class="page-head">
        <h1>Jobs</h1>
        <p class="muted">Newest first. The list follows job events as they happen.</p>
      </div>
      <form class="filters" onSubmit={(e) => e.preventDefault()} aria-label="Filters">
        <label>
          Component
          <ComponentSelect
            name="component"
            value={filters.component}
            noneLabel="all"
            components={components.data?.items}
            onChange={(chosen) => set({ component: chosen })}
          />
        </label>
        <label>
          State
          <select name="state" value={filters.state} onChange={(e) => set({ state: e.currentTarget.value })}>
            <option value="">all</option>
            {JOB_STATES.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </label>
        <label>
          Key
          <input
            name="key"
            type="search"
            placeholder="per-key limit key"
            value={filters.key}
            onChange={(e) => set({ key: e.currentTarget.value })}
          />
        </label>
        <label>
          Created
          <select name="range" value={filters.range} onChange={(e) => set({ range: e.currentTarget.value })}>
            {Object.entries(RANGES).map(([value, r]) => (
              <option key={value} value={value}>
                {r.label}
              </option>
            ))}
          </select>
        </label>
        {filters.range === "custom" && (
          <>
            <label>
              From
              <input
                name="from"
                type="datetime-local"
                step="1"
                value={filters.from}
                onChange={(e) => set({ from: e.currentTarget.value })}
              />
            </label>
            <label>
              To
              <input
                name="to"
                type="datetime-local"
                step="1"
                value={filters.to}
                onChange={(e) => set({ to: e.currentTarget.value })}
              />
            </label>
          </>
        )}
        {anyFilter && (
          <button type="button" class="link" onClick={() => navigate("/jobs", { replace: true })}>
            Clear filters
          </button>
        )}
      </form>
      {jobs.error !== undefined && <ErrorNote message={jobs.error} onRetry={jobs.reload} />}
      {jobs.loading ? (
        <Loading what="jobs" />
      ) : items === undefined ? null : items.length === 0 ? (
        <Empty>
          {anyFilter
            ? "No job matches these filters."
            : "No jobs yet. Submit one with `tessera jobs submit` or POST /api/v1/jobs."}
        </Empty>
      ) : (
        <table class="data" data-testid="jobs-table">
          <thead>
            <tr>
              <th>job</th>
              <th>component</th>
              <th>state</th>
              <th>key</th>
              <th class="num">attempts</th>
              <th>reason</th>
              <th>created</th>
              <th class="num">took</th>
            </tr>
          </thead>
          <tbody>
            {items.map((j) => (
              <JobRow key={j.jobId} job={j} />
            ))}
          </tbody>
        </table>
      )}
      <Pager pages={pages} nextCursor={jobs.data?.nextCursor} />
    </section>
  );
}
