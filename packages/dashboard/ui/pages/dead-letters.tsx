import type { JSX } from "preact";
import { useState } from "preact/hooks";
import { useReadOnlyReason } from "../access.js";
import { Pager, useCursorPages } from "../components/pager.js";
import { api, ok, type DeadLetterRecord } from "../api/client.js";
import {
  ComponentSelect,
  ConfirmDialog,
  Empty,
  ErrorNote,
  Flash,
  Loading,
  ReadOnlyNote,
  Time,
} from "../components/ui.js";
import { plural, shortId } from "../format.js";
import { useJobEvents, useResource } from "../live.js";
import { Link, navigate, queryString, useRoute } from "../router.js";

const PAGE_SIZE = 50;

type Pending = { kind: "some"; jobIds: string[] } | { kind: "all"; component: string };

export function DeadLettersPage(): JSX.Element {
  const { query } = useRoute();
  const component = query.get("component") ?? "";
  const pages = useCursorPages(component);
  const { cursor } = pages;
  const components = useResource(() => ok(api.GET("/api/v1/components")), "components");
  const letters = useResource(
    () =>
      ok(
        api.GET("/api/v1/dlq", {
          params: {
            query: {
              limit: PAGE_SIZE,
              ...(component !== "" ? { component } : {}),
              ...(cursor !== undefined ? { cursor } : {}),
            },
          },
        }),
      ),
    `${component}|${cursor ?? ""}`,
  );
  // A job that fails or is redriven changes this list.
  useJobEvents(letters.reload, (e) => e.state === "failed" || e.state === "pending", 300);
  const readOnly = useReadOnlyReason();
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [pending, setPending] = useState<Pending>();
  const [busy, setBusy] = useState(false);
  const [flash, setFlash] = useState<{ kind: "ok" | "error"; text: string }>();

  const waiting = (letters.data?.items ?? []).filter((d) => d.redrivenAt === null);
  const toggle = (jobId: string): void =>
    setSelected((s) => {
      const next = new Set(s);
      if (next.has(jobId)) next.delete(jobId);
      else next.add(jobId);
      return next;
    });
  const allSelected = waiting.length > 0 && waiting.every((d) => selected.has(d.jobId));

  const redrive = async (what: Pending): Promise<void> => {
    setBusy(true);
    try {
      if (what.kind === "all") {
        const { jobIds } = await ok(api.POST("/api/v1/dlq/redrive", { body: { component: what.component } }));
        setFlash({ kind: "ok", text: `Redrove ${plural(jobIds.length, "job")} of ${what.component}.` });
      } else {
        const failures: string[] = [];
        for (const jobId of what.jobIds) {
          try {
            await ok(api.POST("/api/v1/dlq/{jobId}/redrive", { params: { path: { jobId } } }));
          } catch (err) {
            failures.push(`${shortId(jobId)}: ${(err as Error).message}`);
          }
        }
        const done = what.jobIds.length - failures.length;
        setFlash(
          failures.length === 0
            ? { kind: "ok", text: `Redrove ${plural(done, "job")}.` }
            : { kind: "error", text: `Redrove ${done} of ${what.jobIds.length}. ${failures.join("; ")}` },
        );
      }
      setSelected(new Set());
    } catch (err) {
      setFlash({ kind: "error", text: `Redrive failed: ${(err as Error).message}` });
    } finally {
      setBusy(false);
      setPending(undefined);
      letters.reload();
    }
  };

  const items = letters.data?.items;
  const disabled = readOnly !== undefined || busy;
  return (
    <section>
      <div class="page-head">
        <h1>Dead letters</h1>
        <p class="muted">
          Jobs given up on after their last delivery. Redrive sends one back to pending under the same job id.
        </p>
      </div>
      <div class="toolbar">
        <label>
          Component
          <ComponentSelect
            name="component"
            value={component}
            noneLabel="all"
            components={components.data?.items}
            onChange={(chosen) => {
              setSelected(new Set());
              navigate(`/dlq${queryString({ component: chosen })}`, { replace: true });
            }}
          />
        </label>
        <div class="spacer" />
        <button
          type="button"
          disabled={disabled || selected.size === 0}
          title={readOnly}
          onClick={() => setPending({ kind: "some", jobIds: [...selected] })}
        >
          Redrive selected ({selected.size})
        </button>
        <button
          type="button"
          class="primary"
          disabled={disabled}
          title={readOnly}
          onClick={() => setPending({ kind: "all", component })}
        >
          Redrive all{component !== "" ? ` of ${component}` : " of a component…"}
        </button>
      </div>
      <ReadOnlyNote reason={readOnly} />
      <Flash flash={flash} onClose={() => setFlash(undefined)} />
      {letters.error !== undefined && <ErrorNote message={letters.error} onRetry={letters.reload} />}
      {letters.loading ? (
        <Loading what="dead letters" />
      ) : items === undefined ? null : items.length === 0 ? (
        <Empty>
          No dead letters{component !== "" ? ` for ${component}` : ""}. Jobs land here after exhausting their
          deliveries.
        </Empty>
      ) : (
        <table class="data" data-testid="dlq-table">
          <thead>
            <tr>
              <th class="check">
                <input
                  type="checkbox"
                  aria-label="Select every dead letter waiting on this page"
                  checked={allSelected}
                  disabled={waiting.length === 0 || disabled}
                  onChange={() => setSelected(allSelected ? new Set() : new Set(waiting.map((d) => d.jobId)))}
                />
              </th>
              <th>job</th>
              <th>component</th>
              <th>reason</th>
              <th class="num">attempts</th>
              <th>dead-lettered</th>
              <th>status</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {items.map((d: DeadLetterRecord) => (
              <tr
                key={`${d.jobId}|${d.deadLetteredAt}`}
                data-job-id={d.jobId}
                data-testid="dlq-row"
                class={d.redrivenAt !== null ? "done" : ""}
              >
                <td class="check">
                  <input
                    type="checkbox"
                    aria-label={`Select ${d.jobId}`}
                    checked={selected.has(d.jobId)}
                    disabled={d.redrivenAt !== null || disabled}
                    onChange={() => toggle(d.jobId)}
                  />
                </td>
                <td>
                  <Link href={`/jobs/${d.jobId}`} title={d.jobId}>
                    <code>{shortId(d.jobId)}</code>
                  </Link>
                </td>
                <td>{d.component}</td>
                <td class="reason">
                  <code>{d.reasonCode}</code>
                  <div class="muted small clamp" title={d.reasonDetail}>
                    {d.reasonDetail}
                  </div>
                </td>
                <td class="num">{d.deliveries}</td>
                <td>
                  <Time at={d.deadLetteredAt} />
                </td>
                <td>
                  {d.redrivenAt === null ? (
                    <span class="badge state-failed">waiting</span>
                  ) : (
                    <span class="badge neutral" title={d.redrivenAt}>
                      redriven <Time at={d.redrivenAt} />
                    </span>
                  )}
                </td>
                <td class="actions-cell">
                  {d.redrivenAt === null && (
                    <button
                      type="button"
                      class="small"
                      disabled={disabled}
                      title={readOnly}
                      onClick={() => setPending({ kind: "some", jobIds: [d.jobId] })}
                    >
                      Redrive
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <Pager pages={pages} nextCursor={letters.data?.nextCursor} />
      {pending !== undefined && (
        <ConfirmDialog
          title={
            pending.kind === "all"
              ? `Redrive every dead letter of ${pending.component === "" ? "a component" : pending.component}?`
              : `Redrive ${plural(pending.jobIds.length, "job")}?`
          }
          confirmLabel="Redrive"
          busy={busy}
          incomplete={pending.kind === "all" && pending.component === ""}
          onConfirm={() => void redrive(pending)}
          onCancel={() => setPending(undefined)}
        >
          {pending.kind === "all" ? (
            <>
              {component === "" && (
                <label>
                  Component
                  <ComponentSelect
                    name="redrive-component"
                    value={pending.component}
                    noneLabel="choose…"
                    components={components.data?.items}
                    onChange={(chosen) => setPending({ kind: "all", component: chosen })}
                  />
                </label>
              )}
              <p>
                Every dead-lettered job of{" "}
                {pending.component === "" ? "the component" : <strong>{pending.component}</strong>} not yet redriven
                goes back to pending and runs again, including any on other pages.
              </p>
            </>
          ) : (
            <>
              <p>
                {pending.jobIds.length === 1
                  ? "This job goes back to pending under its own job id and runs again:"
                  : "These jobs go back to pending under their own job ids and run again:"}
              </p>
              <ul class="ids">
                {pending.jobIds.slice(0, 10).map((id) => (
                  <li key={id}>
                    <code>{id}</code>
                  </li>
                ))}
                {pending.jobIds.length > 10 && <li class="muted">and {pending.jobIds.length - 10} more</li>}
              </ul>
            </>
          )}
          <p class="muted small">Written to the audit log.</p>
        </ConfirmDialog>
      )}
    </section>
  );
}
