/**
 * A handler thread's side: imports the module that defines the component, says it is ready, then runs one
 * job at a time for the host, reaching the payload store and the logger through messages. Everything that
 * must stop a job (its time, its heap, a shutdown) is decided by the host, which terminates this thread.
 */
import { parentPort, workerData, type MessagePort } from "node:worker_threads";
import type { ContentRef, Job } from "@tessera/contract";
import { pino, type Logger } from "pino";
import type { ComponentDefinition } from "../define-component.js";
import { createHandlerContext, inlineInput, type ContextIo } from "../handler-context.js";
import { invokeHandler, type HandlerEnd } from "../handler-outcome.js";
import {
  fromWireError,
  RUN_BINDING,
  toWireError,
  type HostMessage,
  type ThreadData,
  type WireOutcome,
} from "./protocol.js";
import { definedInThisThread } from "./thread-marker.js";

interface Pending<T> {
  resolve(value: T): void;
  reject(err: Error): void;
}

interface RunState {
  run: number;
  controller: AbortController | undefined;
  abortReason: DOMException | undefined;
  input: Pending<Uint8Array> | undefined;
  puts: Map<number, Pending<ContentRef>>;
}

const port = parentPort as MessagePort;
const data = workerData as ThreadData;
const runs = new Map<number, RunState>();
let nextPut = 0;

const definition = await load();
if (definition !== undefined) {
  // One destination for the thread: each line goes to the host, which logs it with the job's bindings.
  const root = pino(
    { level: data.logLevel, base: undefined, timestamp: false },
    { write: (line: string) => port.postMessage({ t: "log", line }) },
  );
  port.on("message", (m: HostMessage) => onMessage(m, definition, root));
  port.postMessage({ t: "ready" });
}

async function load(): Promise<ComponentDefinition | undefined> {
  try {
    await import(data.module);
  } catch (err) {
    port.postMessage({
      t: "failed",
      message: `cannot import ${data.module}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`,
    });
    return undefined;
  }
  const all = definedInThisThread();
  const found =
    all.find((d) => d.name === data.component && d.module === data.module) ??
    all.find((d) => d.name === data.component);
  if (found === undefined) {
    const names = all.map((d) => JSON.stringify(d.name)).join(", ") || "none";
    port.postMessage({
      t: "failed",
      message: `${data.module} defined no component named ${JSON.stringify(data.component)} when a handler thread imported it (it defined: ${names}). A handler thread imports the module that called defineComponent and finds the component among those it defines at its top level: define it there, pass module: import.meta.url of the module that does, or set isolation: "none" (unsafe)`,
    });
  }
  return found;
}

function onMessage(m: HostMessage, definition: ComponentDefinition, root: Logger): void {
  if (m.t === "run") {
    void run(m, definition, root);
    return;
  }
  const state = runs.get(m.run);
  if (state === undefined) return;
  if (m.t === "abort") {
    state.abortReason = new DOMException(m.message, m.name);
    state.controller?.abort(state.abortReason);
  } else if (m.t === "input") {
    const pending = state.input;
    state.input = undefined;
    if ("error" in m) pending?.reject(fromWireError(m.error));
    else pending?.resolve(m.bytes);
  } else {
    const pending = state.puts.get(m.id);
    state.puts.delete(m.id);
    if ("error" in m) pending?.reject(fromWireError(m.error));
    else pending?.resolve(m.ref);
  }
}

async function run(
  m: Extract<HostMessage, { t: "run" }>,
  definition: ComponentDefinition,
  root: Logger,
): Promise<void> {
  const state: RunState = {
    run: m.run,
    controller: undefined,
    abortReason: undefined,
    input: undefined,
    puts: new Map(),
  };
  runs.set(m.run, state);
  let log: Logger | undefined;
  const ctx = createHandlerContext({
    job: m.job,
    attempt: m.attempt,
    signal: () => {
      if (state.controller === undefined) {
        state.controller = new AbortController();
        if (state.abortReason !== undefined) state.controller.abort(state.abortReason);
      }
      return state.controller.signal;
    },
    io: threadIo(m.job, state),
    working: () => port.postMessage({ t: "working", run: m.run }),
    log: () => (log ??= root.child({ [RUN_BINDING]: m.run })),
  });
  const outcome = toWire(await invokeHandler(definition.handle, ctx, m.maxOutputBytes));
  runs.delete(m.run);
  const transfer = outcome.kind === "returned" && outcome.output.kind !== "none" ? [bufferOf(outcome.output)] : [];
  port.postMessage({ t: "done", run: m.run, outcome }, transfer);
}

function threadIo(job: Job, state: RunState): ContextIo {
  return {
    // Inline input is in the job already; only a reference is read by the host, which holds the store.
    readInput: () =>
      job.input.content_ref === undefined
        ? inlineInput(job)
        : new Promise((resolve, reject) => {
            state.input = { resolve, reject };
            port.postMessage({ t: "input", run: state.run });
          }),
    putPayload: (bytes) =>
      new Promise((resolve, reject) => {
        const id = ++nextPut;
        state.puts.set(id, { resolve, reject });
        // A copy of the handler's bytes, transferred: the handler keeps its own array usable.
        const copy = bytes.slice();
        port.postMessage({ t: "put", run: state.run, id, bytes: copy }, [copy.buffer]);
      }),
  };
}

/** Error objects do not cross as they are: the host gets their name, message, stack and reason code. */
function toWire(outcome: HandlerEnd): WireOutcome {
  if (outcome.kind === "error") return { kind: "error", error: toWireError(outcome.error) };
  if (outcome.kind === "returned" && outcome.output.kind === "bytes")
    // Copied before transfer, for the same reason as putPayload's.
    return { kind: "returned", output: { kind: "bytes", bytes: outcome.output.bytes.slice() } };
  return outcome;
}

function bufferOf(output: { kind: "bytes"; bytes: Uint8Array } | { kind: "json"; utf8: Uint8Array }): ArrayBuffer {
  return (output.kind === "bytes" ? output.bytes : output.utf8).buffer as ArrayBuffer;
}
