import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import type { JobEvent } from "./api/client.js";

/**
 * One server-sent event stream (GET /api/v1/events) for the whole app. While it is open, pages refresh
 * when a job changes. When it fails, pages are polled instead, with a back-off (2 s doubling to 30 s),
 * and the stream is reopened on the same schedule until it holds again.
 */
export type LiveStatus = "connecting" | "live" | "polling";
type Listener = (event: JobEvent | null) => void;

const MIN_BACKOFF_MS = 2_000;
const MAX_BACKOFF_MS = 30_000;

class LiveEvents {
  status: LiveStatus = "connecting";
  private source: EventSource | undefined;
  private backoff = MIN_BACKOFF_MS;
  private retry: number | undefined;
  private readonly listeners = new Set<Listener>();
  private readonly statusListeners = new Set<(s: LiveStatus) => void>();

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    if (this.source === undefined && this.retry === undefined) this.open();
    return () => void this.listeners.delete(listener);
  }

  onStatus(listener: (s: LiveStatus) => void): () => void {
    this.statusListeners.add(listener);
    return () => void this.statusListeners.delete(listener);
  }

  private setStatus(status: LiveStatus): void {
    this.status = status;
    this.statusListeners.forEach((l) => l(status));
  }

  private open(): void {
    this.retry = undefined;
    const source = new EventSource("/api/v1/events");
    this.source = source;
    source.onopen = () => {
      const wasPolling = this.status === "polling";
      this.backoff = MIN_BACKOFF_MS;
      this.setStatus("live");
      // Whatever changed while the stream was down: one refresh catches up.
      if (wasPolling) this.emit(null);
    };
    source.addEventListener("job", (message) => {
      try {
        this.emit(JSON.parse((message as MessageEvent<string>).data) as JobEvent);
      } catch {
        // not a JobEvent: ignored
      }
    });
    source.onerror = () => {
      // EventSource retries by itself, but not after an HTTP error, and not on our schedule: take over.
      source.close();
      this.source = undefined;
      this.setStatus("polling");
      this.emit(null);
      this.retry = window.setTimeout(() => this.open(), this.backoff);
      this.backoff = Math.min(this.backoff * 2, MAX_BACKOFF_MS);
    };
  }

  private emit(event: JobEvent | null): void {
    this.listeners.forEach((l) => l(event));
  }
}

export const liveEvents = new LiveEvents();

export function useLiveStatus(): LiveStatus {
  const [status, setStatus] = useState(liveEvents.status);
  useEffect(() => liveEvents.onStatus(setStatus), []);
  return status;
}

/** Calls `onChange` for job events that `matches` (null while polling), at most every `debounceMs`. */
export function useJobEvents(
  onChange: () => void,
  matches: (event: JobEvent) => boolean = () => true,
  debounceMs = 300,
): void {
  const latest = useRef({ onChange, matches });
  latest.current = { onChange, matches };
  useEffect(() => {
    let timer: number | undefined;
    const unsubscribe = liveEvents.subscribe((event) => {
      if (event !== null && !latest.current.matches(event)) return;
      if (timer !== undefined) return;
      timer = window.setTimeout(() => {
        timer = undefined;
        latest.current.onChange();
      }, debounceMs);
    });
    return () => {
      unsubscribe();
      if (timer !== undefined) window.clearTimeout(timer);
    };
  }, [debounceMs]);
}

export interface Resource<T> {
  data: T | undefined;
  error: string | undefined;
  /** True until the first answer (later refreshes keep showing the data they replace). */
  loading: boolean;
  reload: () => void;
}

/**
 * Loads `load()` when `key` changes and again on `reload()`. A refresh keeps the previous data on screen;
 * an answer that arrives after a newer request started is dropped.
 */
export function useResource<T>(load: () => Promise<T>, key: string): Resource<T> {
  const [state, setState] = useState<{ key: string; data?: T; error?: string; loaded: boolean }>({
    key,
    loaded: false,
  });
  const [tick, setTick] = useState(0);
  const generation = useRef(0);
  const loader = useRef(load);
  loader.current = load;
  useEffect(() => {
    const mine = ++generation.current;
    loader.current().then(
      (data) => mine === generation.current && setState({ key, data, loaded: true }),
      (err: unknown) =>
        mine === generation.current &&
        setState((s) => ({
          key,
          ...(s.key === key ? { data: s.data } : {}),
          error: (err as Error).message,
          loaded: true,
        })),
    );
  }, [key, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  const sameKey = state.key === key;
  return {
    data: sameKey ? state.data : undefined,
    error: sameKey ? state.error : undefined,
    loading: !sameKey || !state.loaded,
    reload,
  };
}

/** Calls `fn` every `ms` while the page is visible. */
export function useInterval(fn: () => void, ms: number): void {
  const latest = useRef(fn);
  latest.current = fn;
  useEffect(() => {
    const id = window.setInterval(() => {
      if (document.visibilityState === "visible") latest.current();
    }, ms);
    return () => window.clearInterval(id);
  }, [ms]);
}
