import type { JSX } from "preact";
import { useState } from "preact/hooks";
import { useReadOnlyReason } from "../access.js";
import { api, ok, type AuditEntry, type DeadLetterRecord, type JobEvent, type JobRecord } from "../api/client.js";
import { ConfirmDialog, ErrorNote, Flash, Loading, ReadOnlyNote, StateBadge, Time } from "../components/ui.js";
import { bytes, duration, when } from "../format.js";
import { useJobEvents, useResource } from "../live.js";
import { Link } from "../router.js";

const PREVIEW_CHARS = 4_000;

interface TimelineItem {
  at: string;
  /** Where it sorts, when that differs from `at` (see "published"). */
  order?: string;
  title: string;
  detail?: string;
  tone: "neutral" | "ok" | "bad" | "warn";
}

function timeline(
  job: JobRecord,
  deadLetters: DeadLetterRecord[],
  audit: AuditEntry[],
  seen: JobEvent[],
): TimelineItem[] {
  const items: TimelineItem[] = [
    {
      at: job.createdAt,
      title: "recorded",
      detail: `pending, in the coordinator's store${job.idempotencyKey !== null ? ` (idempotency key ${job.idempotencyKey})` : ""}`,
      tone: "neutral",
    },
  ];
  if (job.dispatchedAt !== null) {
    // The relay stamps dispatched_at once the bus has taken the job, which can be after a fast worker's Result.
    const order = job.finishedAt !== null && job.finishedAt < job.dispatchedAt ? job.finishedAt : job.dispatchedAt;
    items.push({
      at: job.dispatchedAt,
      order,
      title: "published to the bus",
      detail: `dispatch ${job.dispatches}${job.dispatches > 1 ? " (the latest)" : ""}`,
      tone: "neutral",
    });
  }
  for (const d of deadLetters) {
    items.push({
      at: d.deadLetteredAt,
      title: "dead-lettered",
      detail: `after ${d.deliveries} deliveries: ${d.reasonCode === "dead_lettered" ? "" : `${d.reasonCode}, `}${d.reasonDetail}`,
      tone: "bad",
    });
    if (d.redrivenAt !== null)
      items.push({
        at: d.redrivenAt,
        title: "redriven",
        detail: "sent back to pending with the same job id",
        tone: "warn",
      });
  }
  for (const a of audit) {
    items.push({
      at: a.at,
      title: a.action,
      detail: `requested by ${a.actor.remoteAddress}${a.actor.token ? " with the admin token" : ""}: ${a.outcome} (HTTP ${a.status})${a.detail !== null ? `, ${a.detail}` : ""}`,
      tone: a.outcome === "ok" ? "neutral" : "warn",
    });
  }
  for (const e of seen)
    items.push({
      at: e.at,
      title: `→ ${e.state}`,
      detail: "seen live on this page",
      tone: e.state === "completed" ? "ok" : e.state === "failed" ? "bad" : "neutral",
    });
  if (job.finishedAt !== null) {
    const tone = job.state === "completed" ? "ok" : job.state === "failed" ? "bad" : "warn";
    items.push({
      at: job.finishedAt,
      title: job.state,
      detail:
        job.reasonCode !== null
          ? `${job.reasonCode}${job.instanceId !== null ? ` on ${job.instanceId}` : ""}`
          : job.instanceId !== null
            ? `by ${job.instanceId}`
            : undefined,
      tone,
    });
  }
  // Stable for equal instants: the order above (recorded before published before decided).
  const key = (item: TimelineItem) => Date.parse(item.order ?? item.at);
  return items
    .map((item, i) => ({ item, i }))
    .sort((a, b) => key(a.item) - key(b.item) || a.i - b.i)
    .map(({ item }) => item);
}

function Output(props: { job: JobRecord }): JSX.Element {
  const output = props.job.output;
  const href = `/api/v1/jobs/${encodeURIComponent(props.job.jobId)}/result`;
  if (output === null) {
    const why =
      {
        completed: "The job completed without output.",
        failed: "No output: the job failed.",
        cancelled: "No output: the job was cancelled.",
      }[props.job.state as string] ?? "No output yet.";
    return <p class="muted">{why}</p>;
  }
  if (output.result_ref !== undefined) {
    return (
      <dl class="fields">
        <dt>result reference</dt>
        <dd>
          <code>{output.result_ref.object_ref}</code> ({bytes(output.result_ref.byte_size)}) ·{" "}
          <a href={href} target="_blank" rel="noopener" data-testid="result-link">
            open the result
          </a>
        </dd>
      </dl>
    );
  }
  const text = typeof output.data === "string" ? output.data : JSON.stringify(output.data, null, 2);
  return (
    <>
      <p>
        Inline in the Result ·{" "}
        <a href={href} target="_blank" rel="noopener" data-testid="result-link">
          open the result
        </a>
      </p>
      <pre class="code">
        {text.length > PREVIEW_CHARS
          ? `${text.slice(0, PREVIEW_CHARS)}\n… (${text.length - PREVIEW_CHARS} more characters: open the result)`
          : text}
      </pre>
    </>
  );
}

type Action = "cancel" | "redrive";

export function JobPage(props: { jobId: string }): JSX.Element {
  const { jobId } = props;
  const job = useResource(() => ok(api.GET("/api/v1/jobs/{jobId}", { params: { path: { jobId } } })), jobId);
  const component = job.data?.component;
  const context = useResource(
    async () => {
      const [audit, dlq] = await Promise.all([
        ok(api.GET("/api/v1/audit", { params: { query: { jobId, limit: 100 } } })),
        // No lookup by job id: the component's latest dead letters hold this job's, if it has any.
        component === undefined
          ? Promise.resolve({ items: [] as DeadLetterRecord[] })
          : ok(api.GET("/api/v1/dlq", { params: { query: { component, limit: 500 } } })),
      ]);
      return { audit: audit.items, deadLetters: dlq.items.filter((d) => d.jobId === jobId) };
    },
    `${jobId}|${component ?? ""}`,
  );
  const [seen, setSeen] = useState<JobEvent[]>([]);
  useJobEvents(
    () => {
      job.reload();
      context.reload();
    },
    (e) => {
      if (e.jobId !== jobId) return false;
      setSeen((s) => [...s, e]);
      return true;
    },
    100,
  );
  const readOnly = useReadOnlyReason();
  const [confirm, setConfirm] = useState<Action>();
  const [busy, setBusy] = useState(false);
  const [flash, setFlash] = useState<{ kind: "ok" | "error"; text: string }>();

  const run = async (action: Action): Promise<void> => {
    setBusy(true);
    try {
      if (action === "cancel") await ok(api.POST("/api/v1/jobs/{jobId}/cancel", { params: { path: { jobId } } }));
      else await ok(api.POST("/api/v1/dlq/{jobId}/redrive", { params: { path: { jobId } } }));
      setFlash({
        kind: "ok",
        text: action === "cancel" ? "Cancelled." : "Redriven: the job is pending again under the same id.",
      });
    } catch (err) {
      setFlash({
        kind: "error",
        text: `${action === "cancel" ? "Cancel" : "Redrive"} failed: ${(err as Error).message}`,
      });
    } finally {
      setBusy(false);
      setConfirm(undefined);
      job.reload();
      context.reload();
    }
  };

  if (job.loading) return <Loading what={`job ${jobId}`} />;
  const j = job.data;
  if (j === undefined) {
    return (
      <section>
        <p>
          <Link href="/jobs">← Jobs</Link>
        </p>
        <ErrorNote message={job.error ?? "no such job"} onRetry={job.reload} />
      </section>
    );
  }
  const cancellable = j.state === "pending" || j.state === "queued";
  const redrivable = j.state === "failed" && j.reasonCode === "dead_lettered";
  return (
    <section class="job" data-testid="job-page" data-state={j.state}>
      <p>
        <Link href={`/jobs?component=${encodeURIComponent(j.component)}`}>← {j.component} jobs</Link>
      </p>
      <div class="page-head row">
        <h1>
          Job <code class="job-id">{j.jobId}</code>
        </h1>
        <StateBadge state={j.state} />
        <div class="spacer" />
        {cancellable && (
          <button
            type="button"
            class="danger"
            disabled={readOnly !== undefined || busy}
            title={readOnly}
            onClick={() => setConfirm("cancel")}
          >
            Cancel job
          </button>
        )}
        {redrivable && (
          <button
            type="button"
            class="primary"
            disabled={readOnly !== undefined || busy}
            title={readOnly}
            onClick={() => setConfirm("redrive")}
          >
            Redrive
          </button>
        )}
      </div>
      {(cancellable || redrivable) && <ReadOnlyNote reason={readOnly} />}
      <Flash flash={flash} onClose={() => setFlash(undefined)} />
      {job.error !== undefined && <ErrorNote message={job.error} onRetry={job.reload} />}

      {j.reasonCode !== null && (
        <div class={`note ${j.state === "failed" ? "error" : "warn"}`} data-testid="reason">
          <strong>
            <code>{j.reasonCode}</code>
          </strong>
          {j.reasonDetail !== null && <pre class="detail">{j.reasonDetail}</pre>}
        </div>
      )}

      <div class="columns">
        <div class="card">
          <h2>Summary</h2>
          <dl class="fields">
            <dt>component</dt>
            <dd>
              <Link href={`/jobs?component=${encodeURIComponent(j.component)}`}>{j.component}</Link>
            </dd>
            <dt>attempts</dt>
            <dd>{j.attempts === 0 ? <span class="muted">no Result yet</span> : `delivery ${j.attempts} decided it`}</dd>
            <dt>dispatches</dt>
            <dd>
              {j.dispatches}{" "}
              {j.redrives > 0 && (
                <span class="muted">
                  ({j.redrives} redrive{j.redrives === 1 ? "" : "s"})
                </span>
              )}
            </dd>
            <dt>limit key</dt>
            <dd>{j.limitKey ?? <span class="muted">—</span>}</dd>
            <dt>instance</dt>
            <dd>{j.instanceId ?? <span class="muted">—</span>}</dd>
            <dt>took</dt>
            <dd>{duration(j.durationMs)}</dd>
            <dt>created</dt>
            <dd title={j.createdAt}>
              {when(j.createdAt)} (<Time at={j.createdAt} />)
            </dd>
            <dt>finished</dt>
            <dd>{j.finishedAt === null ? <span class="muted">not yet</span> : when(j.finishedAt)}</dd>
            {j.duplicateResults > 0 && (
              <>
                <dt>late Results</dt>
                <dd>{j.duplicateResults} (ignored)</dd>
              </>
            )}
          </dl>
        </div>
        <div class="card">
          <h2>Timeline</h2>
          {context.error !== undefined && <ErrorNote message={context.error} onRetry={context.reload} />}
          <ol class="timeline" data-testid="timeline">
            {timeline(j, context.data?.deadLetters ?? [], context.data?.audit ?? [], seen).map((item, i) => (
              <li key={i} class={`tone-${item.tone}`}>
                <span class="when" title={item.at}>
                  {when(item.at)}
                </span>
                <strong>{item.title}</strong>
                {item.detail !== undefined && <span class="muted"> {item.detail}</span>}
              </li>
            ))}
          </ol>
        </div>
      </div>

      <div class="card">
        <h2>Result</h2>
        <Output job={j} />
      </div>
      <details class="card" open>
        <summary>
          <h2>Envelope</h2>
          <span class="muted">as published on the bus</span>
        </summary>
        <pre class="code" data-testid="envelope">
          {JSON.stringify(j.envelope, null, 2)}
        </pre>
      </details>

      {confirm !== undefined && (
        <ConfirmDialog
          title={confirm === "cancel" ? "Cancel this job?" : "Redrive this job?"}
          confirmLabel={confirm === "cancel" ? "Cancel job" : "Redrive"}
          danger={confirm === "cancel"}
          busy={busy}
          onConfirm={() => void run(confirm)}
          onCancel={() => setConfirm(undefined)}
        >
          {confirm === "cancel" ? (
            <p>
              The job will not run
              {j.state === "queued"
                ? " (a worker already holding it may still finish; its Result is then ignored)"
                : ""}
              . This cannot be undone.
            </p>
          ) : (
            <p>The job goes back to pending with the same job id and runs again. This is written to the audit log.</p>
          )}
        </ConfirmDialog>
      )}
    </section>
  );
}
