import type { JSX } from "preact";
import { api, ok, JOB_STATES, type ComponentStatus } from "../api/client.js";
import { Sparkline } from "../components/sparkline.js";
import { Empty, ErrorNote, Loading, StateBadge, Time } from "../components/ui.js";
import { plural } from "../format.js";
import { useInterval, useJobEvents, useResource } from "../live.js";
import { Link, queryString } from "../router.js";

/** Heartbeats and queue depth change without job events: the page also refreshes on this period. */
const REFRESH_MS = 5_000;

function Activity(props: { component: ComponentStatus }): JSX.Element {
  const buckets = props.component.activity.buckets;
  const throughput = buckets.map((b) => b.completed + b.failed);
  const failureRate = buckets.map((b) => (b.completed + b.failed === 0 ? null : b.failed / (b.completed + b.failed)));
  return (
    <div class="charts">
      <Sparkline label="throughput" values={throughput} format={(v) => `${v}/min`} />
      <Sparkline
        label="failure rate"
        values={failureRate}
        max={1}
        tone="bad"
        format={(v) => `${Math.round(v * 100)}%`}
      />
    </div>
  );
}

type Revisions = NonNullable<ComponentStatus["revisions"]>;

function failureRate(outcomes: Revisions["stable"]): string {
  const decided = outcomes.completed + outcomes.failed;
  return decided === 0 ? "–" : `${Math.round((outcomes.failed / decided) * 1000) / 10}%`;
}

/** A canary's results beside the stable revision's (docs/deploy.md#canary): only while a canary runs. */
function RevisionOutcomes(props: { revisions: Revisions }): JSX.Element {
  const { revisions } = props;
  const minutes = Math.round(revisions.windowMs / 60_000);
  return (
    <div class="stat revisions" data-testid="revisions" title={`Results of the last ${minutes} minutes by revision`}>
      <span class="label">failure rate by revision</span>
      <table>
        <tbody>
          {(["stable", "canary"] as const).map((revision) => (
            <tr key={revision} data-testid={`revision-${revision}`}>
              <th>{revision}</th>
              <td>
                <strong data-testid="failure-rate">{failureRate(revisions[revision])}</strong>
              </td>
              <td class="muted" data-testid="decided">
                {revisions[revision].failed} of {revisions[revision].completed + revisions[revision].failed}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function ComponentCard(props: { component: ComponentStatus }): JSX.Element {
  const c = props.component;
  const jobsLink = (state?: string) => `/jobs${queryString({ component: c.name, state })}`;
  return (
    <article class="card component" data-testid={`component-${c.name}`}>
      <header>
        <h2>
          <Link href={jobsLink()}>{c.name}</Link>
        </h2>
        <span class={`badge maturity maturity-${c.maturity}`} title="Maturity label">
          {c.maturity}
        </span>
        <span class={`health ${c.state}`} data-testid="component-state">
          <span class="dot" aria-hidden="true" />
          {c.state === "running" ? plural(c.healthyInstances, "instance") : "declared, no healthy instance"}
        </span>
      </header>
      <div class="stats">
        <div class="stat" title="pending + ack-pending on the bus: what the autoscaler follows">
          <span class="label">queue depth</span>
          <strong data-testid="queue-depth">{c.queueDepth === null ? "?" : c.queueDepth.total}</strong>
          <span class="muted">
            {c.queueDepth === null
              ? "bus did not answer"
              : `${c.queueDepth.pending} pending · ${c.queueDepth.ackPending} in progress`}
          </span>
        </div>
        <Activity component={c} />
        {c.revisions !== undefined && <RevisionOutcomes revisions={c.revisions} />}
      </div>
      <ul class="state-counts">
        {JOB_STATES.map((state) => (
          <li key={state}>
            <Link href={jobsLink(state)} title={`${c.name} jobs ${state}`}>
              <StateBadge state={state} /> <strong>{c.jobs[state]}</strong>
            </Link>
          </li>
        ))}
      </ul>
      {c.limits !== null && (
        <p class="muted small">
          per-key limits on <code>{c.limits.key}</code>
          {c.limits.concurrency !== undefined && `: ${c.limits.concurrency} at once`}
          {c.limits.rate !== undefined && `, ${c.limits.rate.limit} per ${c.limits.rate.intervalMs} ms`}
        </p>
      )}
      {c.instances.length === 0 ? (
        <p class="muted small">
          No instance has sent a heartbeat
          {c.queueDepth !== null && c.queueDepth.total > 0 ? ": its queue is waiting for a worker." : "."}
        </p>
      ) : (
        <table class="instances">
          <thead>
            <tr>
              <th>instance</th>
              <th>version</th>
              <th class="num">in flight</th>
              <th>last heartbeat</th>
            </tr>
          </thead>
          <tbody>
            {c.instances.map((i) => (
              <tr key={i.instanceId} class={i.stale ? "stale" : ""}>
                <td>
                  <code>{i.instanceId}</code>
                  {i.stale && <span class="badge warn">stale</span>}
                </td>
                <td>{i.version}</td>
                <td class="num">{i.inFlight}</td>
                <td>
                  <Time at={i.lastHeartbeatAt} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </article>
  );
}

export function ComponentsPage(): JSX.Element {
  const components = useResource(() => ok(api.GET("/api/v1/components")), "components");
  useJobEvents(components.reload, () => true, 1_000);
  useInterval(components.reload, REFRESH_MS);
  const items = components.data?.items;
  return (
    <section>
      <div class="page-head">
        <h1>Components</h1>
        <p class="muted">
          State from heartbeats, queue depth from the bus, and jobs decided per minute over the last 15 minutes.
        </p>
      </div>
      {components.error !== undefined && <ErrorNote message={components.error} onRetry={components.reload} />}
      {components.loading ? (
        <Loading what="components" />
      ) : items === undefined ? null : items.length === 0 ? (
        <Empty>No components are registered with this coordinator.</Empty>
      ) : (
        <div class="grid">
          {items.map((c) => (
            <ComponentCard key={c.name} component={c} />
          ))}
        </div>
      )}
    </section>
  );
}
