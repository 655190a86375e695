import type { JSX } from "preact";
import { useState } from "preact/hooks";
import { useReadOnlyReason } from "../access.js";
import { api, ok, type Connection } from "../api/client.js";
import { ConfirmDialog, Empty, ErrorNote, Flash, Loading, ReadOnlyNote, StateBadge, Time } from "../components/ui.js";
import { expiry, when } from "../format.js";
import { useInterval, useResource } from "../live.js";

/** Users' connections to providers: state, token expiry, last refresh and error; connect and disconnect. */
export function ConnectionsPage(): JSX.Element {
  const list = useResource(() => ok(api.GET("/api/v1/connections")), "connections");
  // Refreshes and failures happen at the provider's pace, not as job events: look again now and then.
  useInterval(list.reload, 10_000);
  const readOnly = useReadOnlyReason();
  const [userId, setUserId] = useState("");
  const [busy, setBusy] = useState(false);
  const [pending, setPending] = useState<Connection>();
  const [flash, setFlash] = useState<{ kind: "ok" | "error"; text: string }>();

  const connect = async (provider: string): Promise<void> => {
    setBusy(true);
    try {
      const begun = await ok(api.POST("/api/v1/connections", { body: { provider, userId: userId.trim() } }));
      // The provider asks the user for consent, then sends the browser to this coordinator's /oauth/callback.
      window.location.assign(begun.redirectUrl);
    } catch (err) {
      setFlash({ kind: "error", text: `Could not begin the connection: ${(err as Error).message}` });
      setBusy(false);
    }
  };

  const disconnect = async (c: Connection): Promise<void> => {
    setBusy(true);
    try {
      const outcome = await ok(
        api.DELETE("/api/v1/connections/{provider}/{userId}", {
          params: { path: { provider: c.provider, userId: c.userId } },
        }),
      );
      setFlash({
        kind: "ok",
        text: `Disconnected ${c.id}: ${outcome.providerRevoked ? "revoked at the provider" : `not revoked at the provider${outcome.providerError !== null ? ` (${outcome.providerError})` : ""}`}; its tokens are wiped.`,
      });
    } catch (err) {
      setFlash({ kind: "error", text: `Disconnect failed: ${(err as Error).message}` });
    } finally {
      setBusy(false);
      setPending(undefined);
      list.reload();
    }
  };

  const data = list.data;
  const disabled = readOnly !== undefined || busy;
  return (
    <section>
      <div class="page-head">
        <h1>Connections</h1>
        <p class="muted">
          Users' accounts at third-party providers, connected with OAuth. Tokens are kept sealed by the vault and never
          shown.
        </p>
      </div>
      <ReadOnlyNote reason={readOnly} />
      <Flash flash={flash} onClose={() => setFlash(undefined)} />
      {list.error !== undefined && <ErrorNote message={list.error} onRetry={list.reload} />}
      {list.loading ? (
        <Loading what="connections" />
      ) : data === undefined ? null : !data.configured ? (
        <Empty>
          This coordinator has no connectors configured (<code>createCoordinator({"{ connectors }"})</code>, see
          docs/connectors.md).
        </Empty>
      ) : (
        <>
          <form
            class="toolbar"
            data-testid="connect-form"
            onSubmit={(e) => {
              e.preventDefault();
            }}
          >
            <label>
              User
              <input
                name="userId"
                value={userId}
                onInput={(e) => setUserId(e.currentTarget.value)}
                placeholder="user id"
                maxLength={256}
              />
            </label>
            {data.providers.map((provider) => (
              <button
                key={provider}
                type="button"
                class="primary"
                data-testid={`connect-${provider}`}
                disabled={disabled || userId.trim() === ""}
                title={readOnly ?? (userId.trim() === "" ? "Enter the user first" : `Connect to ${provider}`)}
                onClick={() => void connect(provider)}
              >
                Connect {provider}
              </button>
            ))}
          </form>
          {data.items.length === 0 ? (
            <Empty>No connections yet. Enter a user and connect them to a provider.</Empty>
          ) : (
            <table class="data" data-testid="connections-table">
              <thead>
                <tr>
                  <th>provider</th>
                  <th>user</th>
                  <th>state</th>
                  <th>scopes</th>
                  <th>token expires</th>
                  <th>last refresh</th>
                  <th>last error</th>
                  <th>connected</th>
                  <th />
                </tr>
              </thead>
              <tbody>
                {data.items.map((c) => (
                  <tr key={c.id} data-testid="connection-row" data-connection-id={c.id}>
                    <td>{c.provider}</td>
                    <td>
                      <code>{c.userId}</code>
                    </td>
                    <td>
                      <StateBadge
                        state={c.state}
                        title={c.state === "needs_reauth" ? "The provider refused the refresh: connect again" : ""}
                      />
                    </td>
                    <td class="small">{c.scopes.join(" ")}</td>
                    <td data-testid="expiry" title={when(c.expiresAt)}>
                      {expiry(c.expiresAt)}
                    </td>
                    <td>
                      <Time at={c.refreshedAt} />
                    </td>
                    <td class="reason" data-testid="last-error">
                      {c.lastError === null ? <span class="muted">—</span> : <code>{c.lastError}</code>}
                    </td>
                    <td>
                      <Time at={c.connectedAt} />
                    </td>
                    <td class="actions-cell">
                      <button
                        type="button"
                        class="small"
                        disabled={disabled}
                        title={readOnly}
                        onClick={() => setPending(c)}
                      >
                        Disconnect
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </>
      )}
      {pending !== undefined && (
        <ConfirmDialog
          title={`Disconnect ${pending.userId} from ${pending.provider}?`}
          confirmLabel="Disconnect"
          busy={busy}
          onConfirm={() => void disconnect(pending)}
          onCancel={() => setPending(undefined)}
        >
          <p>The tokens are revoked at {pending.provider} and wiped here; the user has to connect again to use it.</p>
          <p class="muted small">Written to the audit log.</p>
        </ConfirmDialog>
      )}
    </section>
  );
}
