import type { JSX } from "preact";
import { Pager, useCursorPages } from "../components/pager.js";
import { api, ok } from "../api/client.js";
import { Empty, ErrorNote, Loading, Time } from "../components/ui.js";
import { shortId } from "../format.js";
import { useJobEvents, useResource } from "../live.js";
import { Link } from "../router.js";

const PAGE_SIZE = 50;

export function AuditPage(): JSX.Element {
  const pages = useCursorPages("audit");
  const { cursor } = pages;
  const audit = useResource(
    () =>
      ok(
        api.GET("/api/v1/audit", {
          params: { query: { limit: PAGE_SIZE, ...(cursor !== undefined ? { cursor } : {}) } },
        }),
      ),
    cursor ?? "",
  );
  // Every audited change is a job change too (or a setting): the list follows job events.
  useJobEvents(audit.reload, () => true, 1_000);
  const items = audit.data?.items;
  return (
    <section>
      <div class="page-head">
        <h1>Audit log</h1>
        <p class="muted">
          Every cancel, redrive and settings change requested through the admin API, allowed or refused.
        </p>
      </div>
      {audit.error !== undefined && <ErrorNote message={audit.error} onRetry={audit.reload} />}
      {audit.loading ? (
        <Loading what="the audit log" />
      ) : items === undefined ? null : items.length === 0 ? (
        <Empty>Nothing changed through the admin API yet.</Empty>
      ) : (
        <table class="data" data-testid="audit-table">
          <thead>
            <tr>
              <th>when</th>
              <th>action</th>
              <th>target</th>
              <th>jobs</th>
              <th>who</th>
              <th>outcome</th>
              <th>detail</th>
            </tr>
          </thead>
          <tbody>
            {items.map((a) => (
              <tr key={a.id} data-testid="audit-row">
                <td>
                  <Time at={a.at} />
                </td>
                <td>
                  <code>{a.action}</code>
                </td>
                <td>
                  {a.jobIds.length === 1 && a.jobIds[0] === a.target ? (
                    <Link href={`/jobs/${a.target}`}>{shortId(a.target)}</Link>
                  ) : (
                    a.target
                  )}
                </td>
                <td>
                  {a.jobIds.length === 0 ? (
                    <span class="muted">—</span>
                  ) : (
                    a.jobIds.slice(0, 3).map((id) => (
                      <Link key={id} href={`/jobs/${id}`} class="id-chip" title={id}>
                        {shortId(id)}
                      </Link>
                    ))
                  )}
                  {a.jobIds.length > 3 && <span class="muted"> +{a.jobIds.length - 3}</span>}
                </td>
                <td title={a.actor.userAgent ?? undefined}>
                  {a.actor.remoteAddress}
                  {a.actor.token && <span class="badge neutral">token</span>}
                </td>
                <td>
                  <span class={`badge outcome-${a.outcome}`}>
                    {a.outcome} {a.status}
                  </span>
                </td>
                <td class="reason muted small">{a.detail ?? ""}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <Pager pages={pages} nextCursor={audit.data?.nextCursor} />
    </section>
  );
}
