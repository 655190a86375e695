import type { JSX } from "preact";
import { useEffect, useState } from "preact/hooks";
import { useReadOnlyReason } from "../access.js";
import { api, ok, type GatewayAccount } from "../api/client.js";
import { Empty, ErrorNote, Flash, Loading, ReadOnlyNote, StateBadge, Time } from "../components/ui.js";
import { bytes } from "../format.js";
import { useInterval, useResource } from "../live.js";

/**
 * The fields of an inbound Message (docs/gateway-contract.md) the tail shows. The tail's schema is the
 * contract's, which the OpenAPI document does not carry; the dashboard imports none of our packages.
 */
interface TailMessage {
  id: string;
  channel_type: string;
  scope: { tenant: string; account: string; conversation: string };
  sender: { id: string; name?: string };
  text: string;
  received_at: string;
}

/** Messages the tail keeps on the page, newest first. */
const TAIL_LENGTH = 100;

function useTail(): { messages: TailMessage[]; open: boolean } {
  const [messages, setMessages] = useState<TailMessage[]>([]);
  const [open, setOpen] = useState(false);
  useEffect(() => {
    const source = new EventSource("/api/v1/gateway/tail");
    source.onopen = () => setOpen(true);
    source.onerror = () => setOpen(false);
    source.addEventListener("message", (event) => {
      try {
        const message = JSON.parse((event as MessageEvent<string>).data) as TailMessage;
        setMessages((held) => [message, ...held].slice(0, TAIL_LENGTH));
      } catch {
        // not a Message: ignored
      }
    });
    return () => source.close();
  }, []);
  return { messages, open };
}

/** The channel gateway's control plane: accounts (disable, enable), the streams' health and a live tail. */
export function GatewayPage(): JSX.Element {
  const accounts = useResource(() => ok(api.GET("/api/v1/gateway/accounts")), "gateway-accounts");
  const health = useResource(() => ok(api.GET("/api/v1/gateway/health")), "gateway-health");
  useInterval(health.reload, 5_000);
  const tail = useTail();
  const readOnly = useReadOnlyReason();
  const [busy, setBusy] = useState(false);
  const [flash, setFlash] = useState<{ kind: "ok" | "error"; text: string }>();

  const toggle = async (a: GatewayAccount): Promise<void> => {
    setBusy(true);
    try {
      await ok(
        api.PUT("/api/v1/gateway/accounts/{channelType}/{tenant}/{account}", {
          params: { path: { channelType: a.channelType, tenant: a.tenant, account: a.account } },
          body: { disabled: !a.disabled },
        }),
      );
      setFlash({ kind: "ok", text: `${a.disabled ? "Enabled" : "Disabled"} ${a.id}.` });
    } catch (err) {
      setFlash({ kind: "error", text: `Could not change ${a.id}: ${(err as Error).message}` });
    } finally {
      setBusy(false);
      accounts.reload();
    }
  };

  const h = health.data;
  return (
    <section>
      <div class="page-head">
        <h1>Gateway</h1>
        <p class="muted">
          Channel accounts and where their platforms post, the gateway's streams, and inbound messages as they are
          stored. Credentials are sealed by the vault and never shown.
        </p>
      </div>
      <ReadOnlyNote reason={readOnly} />
      <Flash flash={flash} onClose={() => setFlash(undefined)} />
      {accounts.error !== undefined && <ErrorNote message={accounts.error} onRetry={accounts.reload} />}
      <h2>Accounts</h2>
      {accounts.loading ? (
        <Loading what="accounts" />
      ) : (accounts.data?.items.length ?? 0) === 0 ? (
        <Empty>
          No accounts. Install one with{" "}
          <code>tessera gateway install &lt;channel&gt;/&lt;tenant&gt;/&lt;account&gt;</code>.
        </Empty>
      ) : (
        <table class="data" data-testid="gateway-accounts">
          <thead>
            <tr>
              <th>account</th>
              <th>state</th>
              <th>rate limit</th>
              <th>credentials</th>
              <th>rotated</th>
              <th>webhook</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {accounts.data!.items.map((a) => (
              <tr key={a.id} data-testid="gateway-account-row" data-account-id={a.id}>
                <td>
                  <code>{a.id}</code>
                </td>
                <td>
                  <StateBadge state={a.disabled ? "disabled" : "enabled"} />
                </td>
                <td>
                  {a.rateLimit === null ? (
                    <span class="muted">default</span>
                  ) : (
                    `${a.rateLimit.perSecond}/s, burst ${a.rateLimit.burst}`
                  )}
                </td>
                <td class="small" data-testid="credentials">
                  {a.credentials.keyId === null && a.credentials.connection === null
                    ? "none"
                    : `${a.credentials.signingSecrets} signing; ${a.credentials.names.join(", ") || "no tokens"}` +
                      (a.credentials.keyId === null ? "" : ` (key ${a.credentials.keyId})`) +
                      (a.credentials.connection === null
                        ? ""
                        : `; ${a.credentials.connection.credential} from ${a.credentials.connection.id}`)}
                </td>
                <td>
                  <Time at={a.credentials.rotatedAt} />
                </td>
                <td class="small">
                  <code data-testid="webhook">{a.webhookUrl ?? a.webhookPath}</code>
                </td>
                <td class="actions-cell">
                  <button
                    type="button"
                    class="small"
                    disabled={readOnly !== undefined || busy}
                    title={readOnly}
                    onClick={() => void toggle(a)}
                  >
                    {a.disabled ? "Enable" : "Disable"}
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <h2>Streams</h2>
      {h === undefined ? (
        <Loading what="stream health" />
      ) : h.mode === "none" ? (
        <Empty>No gateway is mounted on this coordinator.</Empty>
      ) : (
        <>
          <p class="muted small" data-testid="gateway-mode">
            {h.mode === "in-process"
              ? "in-process: tessera dev's stand-in for the inbound stream (lost on exit; refused in production)"
              : "JetStream"}
            {h.error !== null && <span class="error"> — {h.error}</span>}
          </p>
          <table class="data" data-testid="gateway-streams">
            <thead>
              <tr>
                <th>stream</th>
                <th>messages</th>
                <th>size</th>
                <th>last seq</th>
                <th>last stored</th>
                <th>consumers</th>
              </tr>
            </thead>
            <tbody>
              {h.streams.map((s) => (
                <tr key={s.name} data-stream={s.name}>
                  <td>
                    <code>{s.name}</code>
                    {!s.present && <span class="muted"> (missing)</span>}
                  </td>
                  <td data-testid="stream-messages">{s.messages}</td>
                  <td>{bytes(s.bytes)}</td>
                  <td>{s.lastSeq}</td>
                  <td>
                    <Time at={s.lastAt} />
                  </td>
                  <td>{s.consumers}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
      <h2>
        Live tail{" "}
        <span class={`live live-${tail.open ? "live" : "connecting"}`} data-testid="tail-status">
          {tail.open ? "live" : "connecting…"}
        </span>
      </h2>
      {tail.messages.length === 0 ? (
        <Empty>No message since this page opened.</Empty>
      ) : (
        <table class="data" data-testid="gateway-tail">
          <thead>
            <tr>
              <th>received</th>
              <th>account</th>
              <th>conversation</th>
              <th>sender</th>
              <th>text</th>
            </tr>
          </thead>
          <tbody>
            {tail.messages.map((m) => (
              <tr key={m.id} data-testid="tail-row" data-message-id={m.id}>
                <td>
                  <Time at={m.received_at} />
                </td>
                <td>
                  <code>
                    {m.channel_type}/{m.scope.tenant}/{m.scope.account}
                  </code>
                </td>
                <td>{m.scope.conversation}</td>
                <td>{m.sender.name ?? m.sender.id}</td>
                <td data-testid="tail-text">{m.text}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
