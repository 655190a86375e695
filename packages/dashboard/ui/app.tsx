import type { JSX } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { AccessProvider, useAccess } from "./access.js";
import { adminToken } from "./api/client.js";
import { useLiveStatus } from "./live.js";
import { LockIcon } from "./components/ui.js";
import { AuditPage } from "./pages/audit.js";
import { ComponentsPage } from "./pages/components.js";
import { ConnectionsPage } from "./pages/connections.js";
import { DeadLettersPage } from "./pages/dead-letters.js";
import { GatewayPage } from "./pages/gateway.js";
import { JobPage } from "./pages/job.js";
import { JobsPage } from "./pages/jobs.js";
import { Link, useRoute } from "./router.js";

const NAV = [
  { href: "/components", label: "Components", matches: (p: string) => p === "/" || p.startsWith("/components") },
  { href: "/jobs", label: "Jobs", matches: (p: string) => p.startsWith("/jobs") },
  { href: "/dlq", label: "Dead letters", matches: (p: string) => p.startsWith("/dlq") },
  { href: "/connections", label: "Connections", matches: (p: string) => p.startsWith("/connections") },
  { href: "/gateway", label: "Gateway", matches: (p: string) => p.startsWith("/gateway") },
  { href: "/audit", label: "Audit log", matches: (p: string) => p.startsWith("/audit") },
];

function Page(): JSX.Element {
  const { path } = useRoute();
  const job = /^\/jobs\/([^/]+)$/.exec(path);
  let page: JSX.Element;
  let title: string;
  if (job?.[1] !== undefined) {
    const jobId = decodeURIComponent(job[1]);
    page = <JobPage key={jobId} jobId={jobId} />;
    title = `Job ${jobId.slice(0, 8)}`;
  } else if (path === "/" || path.startsWith("/components")) {
    page = <ComponentsPage />;
    title = "Components";
  } else if (path === "/jobs") {
    page = <JobsPage />;
    title = "Jobs";
  } else if (path === "/dlq") {
    page = <DeadLettersPage />;
    title = "Dead letters";
  } else if (path === "/connections") {
    page = <ConnectionsPage />;
    title = "Connections";
  } else if (path === "/gateway") {
    page = <GatewayPage />;
    title = "Gateway";
  } else if (path === "/audit") {
    page = <AuditPage />;
    title = "Audit log";
  } else {
    page = (
      <section>
        <h1>Not found</h1>
        <p>
          No page at <code>{path}</code>. <Link href="/components">Go to the components</Link>.
        </p>
      </section>
    );
    title = "Not found";
  }
  useEffect(() => {
    document.title = `${title} · Tessera`;
  }, [title]);
  return page;
}

function LiveIndicator(): JSX.Element {
  const status = useLiveStatus();
  const text = { connecting: "connecting…", live: "live", polling: "reconnecting (polling)" }[status];
  const hint = {
    connecting: "Opening the event stream",
    live: "Updates arrive as they happen (server-sent events)",
    polling: "The event stream is down: the page is refreshed every few seconds while it reconnects",
  }[status];
  return (
    <span class={`live live-${status}`} title={hint} data-testid="live-status">
      <span class="dot" aria-hidden="true" />
      {text}
    </span>
  );
}

function AccessControl(): JSX.Element {
  const { info, setToken } = useAccess();
  const [open, setOpen] = useState(false);
  const [value, setValue] = useState("");
  const dialog = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    if (open) dialog.current?.showModal();
    else dialog.current?.close();
  }, [open]);
  const hasToken = adminToken.get() !== null;
  const label =
    info === undefined
      ? "…"
      : info.canChange
        ? info.tokenAccepted
          ? "admin token accepted"
          : "changes allowed"
        : "read-only";
  const save = async (e: Event): Promise<void> => {
    e.preventDefault();
    await setToken(value.trim());
    setValue("");
    setOpen(false);
  };
  return (
    <>
      <button
        type="button"
        class={`access ${info?.canChange === true ? "can" : "cannot"}`}
        title={info?.message}
        onClick={() => setOpen(true)}
        data-testid="access"
      >
        <LockIcon open={info?.canChange === true} /> {label}
      </button>
      <dialog ref={dialog} class="confirm" onClose={() => setOpen(false)} aria-labelledby="token-title">
        <h2 id="token-title">Admin token</h2>
        <p class="muted">{info?.message}</p>
        <p>
          Cancel and redrive need the coordinator's admin token (<code>TESSERA_ADMIN_TOKEN</code>) when one is
          configured. It is kept in this browser tab only and sent as <code>Authorization: Bearer</code>.
        </p>
        <form onSubmit={save}>
          <label>
            Token
            <input
              type="password"
              autocomplete="off"
              value={value}
              onInput={(e) => setValue(e.currentTarget.value)}
              placeholder="paste the admin token"
            />
          </label>
          <div class="actions">
            {hasToken && (
              <button type="button" onClick={() => void setToken(null).then(() => setOpen(false))}>
                Forget token
              </button>
            )}
            <button type="button" onClick={() => setOpen(false)}>
              Close
            </button>
            <button type="submit" class="primary" disabled={value.trim() === ""}>
              Use token
            </button>
          </div>
        </form>
      </dialog>
    </>
  );
}

function Shell(): JSX.Element {
  const { path } = useRoute();
  return (
    <>
      <header class="top">
        <Link href="/components" class="brand">
          <img src="/favicon.svg" alt="" width="22" height="22" /> Tessera
        </Link>
        <nav aria-label="Pages">
          {NAV.map((item) => (
            <Link key={item.href} href={item.href} class={item.matches(path) ? "active" : ""}>
              {item.label}
            </Link>
          ))}
        </nav>
        <div class="spacer" />
        <LiveIndicator />
        <AccessControl />
      </header>
      <main>
        <Page />
      </main>
    </>
  );
}

export function App(): JSX.Element {
  return (
    <AccessProvider>
      <Shell />
    </AccessProvider>
  );
}
