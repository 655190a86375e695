import type { ComponentChildren, JSX } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import type { ComponentStatus, JobState } from "../api/client.js";
import { ago, when } from "../format.js";

export function StateBadge(props: { state: JobState | string; title?: string }): JSX.Element {
  return (
    <span class={`badge state-${props.state}`} title={props.title} data-state={props.state}>
      {props.state}
    </span>
  );
}

// One timer for every relative time on the page, so "12 s ago" keeps counting while nothing else changes.
const clockListeners = new Set<() => void>();
window.setInterval(() => clockListeners.forEach((l) => l()), 5_000);

function useClock(): void {
  const [, setTick] = useState(0);
  useEffect(() => {
    const tick = (): void => setTick((t) => t + 1);
    clockListeners.add(tick);
    return () => void clockListeners.delete(tick);
  }, []);
}

/** A relative time ("3 min ago") with the exact local time on hover. */
export function Time(props: { at: string | null | undefined }): JSX.Element {
  useClock();
  if (props.at === null || props.at === undefined) return <span class="muted">—</span>;
  return (
    <time dateTime={props.at} title={when(props.at)}>
      {ago(props.at)}
    </time>
  );
}

export function Loading(props: { what: string }): JSX.Element {
  return (
    <div class="placeholder" role="status" aria-busy="true">
      <span class="spinner" aria-hidden="true" /> Loading {props.what}…
    </div>
  );
}

export function ErrorNote(props: { message: string; onRetry?: () => void }): JSX.Element {
  return (
    <div class="note error" role="alert">
      <strong>Something went wrong.</strong> {props.message}
      {props.onRetry !== undefined && (
        <button type="button" class="link" onClick={props.onRetry}>
          Try again
        </button>
      )}
    </div>
  );
}

export function Empty(props: { children: ComponentChildren }): JSX.Element {
  return <div class="placeholder empty">{props.children}</div>;
}

/** A padlock, closed or open (inline SVG: no icon font, no emoji font needed). */
export function LockIcon(props: { open: boolean }): JSX.Element {
  return (
    <svg class="icon" viewBox="0 0 16 16" width="13" height="13" aria-hidden="true">
      <rect x="3" y="7" width="10" height="7.5" rx="1.5" fill="currentColor" />
      <path
        d={props.open ? "M5 7V5a3 3 0 0 1 5.8-1.1" : "M5 7V5a3 3 0 0 1 6 0v2"}
        fill="none"
        stroke="currentColor"
        stroke-width="1.6"
      />
    </svg>
  );
}

/** Why a button is disabled, next to it, so nobody has to hover to find out. */
export function ReadOnlyNote(props: { reason: string | undefined }): JSX.Element | null {
  if (props.reason === undefined) return null;
  return (
    <p class="note readonly" data-testid="read-only-note">
      <LockIcon open={false} /> Read-only: {props.reason}
    </p>
  );
}

/** A modal confirmation (native <dialog>): Escape or Cancel closes it, the confirm button runs `onConfirm`. */
export function ConfirmDialog(props: {
  title: string;
  children: ComponentChildren;
  confirmLabel: string;
  busy?: boolean;
  danger?: boolean;
  /** The confirm button stays disabled (something is still to be chosen in the dialog). */
  incomplete?: boolean;
  onConfirm: () => void;
  onCancel: () => void;
}): JSX.Element {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const dialog = ref.current;
    if (dialog !== null && !dialog.open) dialog.showModal();
  }, []);
  return (
    <dialog
      ref={ref}
      class="confirm"
      aria-labelledby="confirm-title"
      onCancel={(e) => (e.preventDefault(), props.onCancel())}
    >
      <h2 id="confirm-title">{props.title}</h2>
      <div class="confirm-body">{props.children}</div>
      <div class="actions">
        <button type="button" onClick={props.onCancel} disabled={props.busy}>
          Cancel
        </button>
        <button
          type="button"
          class={props.danger === true ? "danger" : "primary"}
          onClick={props.onConfirm}
          disabled={props.busy === true || props.incomplete === true}
          autofocus
        >
          {props.busy === true ? "Working…" : props.confirmLabel}
        </button>
      </div>
    </dialog>
  );
}

/** A short-lived message after an action: what happened, or why it failed. */
export function Flash(props: {
  flash: { kind: "ok" | "error"; text: string } | undefined;
  onClose: () => void;
}): JSX.Element | null {
  if (props.flash === undefined) return null;
  return (
    <div
      class={`note ${props.flash.kind === "ok" ? "success" : "error"}`}
      role={props.flash.kind === "ok" ? "status" : "alert"}
    >
      {props.flash.text}
      <button type="button" class="link" onClick={props.onClose} aria-label="Dismiss">
        ×
      </button>
    </div>
  );
}

/** A select of the registered components, whose first option (value "") means none chosen. */
export function ComponentSelect(props: {
  name: string;
  value: string;
  noneLabel: string;
  components: readonly Pick<ComponentStatus, "name">[] | undefined;
  onChange: (component: string) => void;
}): JSX.Element {
  return (
    <select name={props.name} value={props.value} onChange={(e) => props.onChange(e.currentTarget.value)}>
      <option value="">{props.noneLabel}</option>
      {props.components?.map((c) => (
        <option key={c.name} value={c.name}>
          {c.name}
        </option>
      ))}
    </select>
  );
}
