import { createInProcessBus, type Bus, type DeadLetter, type ResultEvent, type Subscription } from "@tessera/bus";
import { SCHEMA_VERSION, type Job, type Result } from "@tessera/contract";
import { pino } from "pino";

export const quietLogger = pino({ level: "silent" });

let counter = 0;
export function makeJob(component: string, overrides: Partial<Job> = {}): Job {
  counter++;
  return {
    schema_version: SCHEMA_VERSION,
    job_id: `job-${process.pid}-${counter}`,
    component,
    content_type: "text/plain",
    limits: { max_bytes: 1024 * 1024, wall_clock: 10_000 },
    input: { inline: `hello ${counter}` },
    ...overrides,
  };
}

/** Collects every Result on the bus, keyed by job id, in arrival order. */
export class ResultCollector {
  readonly all: Result[] = [];
  private sub: Subscription | undefined;
  constructor(private readonly bus: Bus) {}
  async start(): Promise<this> {
    this.sub = await this.bus.consumeResults((e: ResultEvent) => {
      if (e.kind === "result") this.all.push(e.result);
    });
    return this;
  }
  for(jobId: string): Result[] {
    return this.all.filter((r) => r.job_id === jobId);
  }
  async stop(): Promise<void> {
    await this.sub?.stop();
  }
}

export async function provisioned(component: string, over: { ackWaitMs?: number; maxDeliver?: number } = {}, bus: Bus = createInProcessBus()): Promise<Bus> {
  await bus.ensureComponent({ name: component, ackWaitMs: over.ackWaitMs ?? 5_000, maxDeliver: over.maxDeliver ?? 5, duplicateWindowMs: 60_000 });
  return bus;
}

export type { DeadLetter };
