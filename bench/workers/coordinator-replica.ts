/**
 * A coordinator replica in its own process, for the bench's rows with several coordinators: the same
 * coordinator as the bench's own, on the same Postgres database and nats-server, taking its share of the
 * submits as a monolith replica behind a load balancer would. Commands arrive on stdin
 * (`src/replica-commands.ts`); it closes its coordinator when stdin ends. Env: NATS_URL, DATABASE_URL,
 * COMPONENT, REPLICA (a number, for the connection's name).
 */
import { createInterface } from "node:readline";
import { connectJetStreamBus } from "@tessera/bus";
import { waitUntil } from "../src/bench-env.js";
import { openLoopSamples } from "../src/open-loop.js";
import type { ReplicaCommand, ReplicaDone } from "../src/replica-commands.js";
import { benchCoordinator } from "../src/tessera-modes.js";
import { windowed } from "../src/windowed.js";

const component = process.env["COMPONENT"] ?? "";
const bus = await connectJetStreamBus({
  servers: process.env["NATS_URL"] ?? "",
  name: `bench-coordinator-${process.env["REPLICA"] ?? "?"}`,
});
const coordinator = await benchCoordinator(bus, component, { url: process.env["DATABASE_URL"] ?? "" });
const completedAt = new Map<string, number>();
const stop = coordinator.onJobEvent((e) => {
  if (e.component === component && e.state === "completed") completedAt.set(e.jobId, performance.now());
});
const say = (line: ReplicaDone | { event: "ready" }): void => void process.stdout.write(`${JSON.stringify(line)}\n`);
say({ event: "ready" });

for await (const line of createInterface({ input: process.stdin })) {
  const command = JSON.parse(line) as ReplicaCommand;
  const submit = (): Promise<string> => coordinator.submit(component, command.input).then((o) => o.jobId);
  if (command.kind === "submit") {
    await windowed(command.jobs, command.window, submit);
    say({ event: "done", id: command.id });
  } else {
    const what = `${component} jobs submitted on replica ${process.env["REPLICA"] ?? "?"}`;
    const { samples } = await openLoopSamples({ waitUntil }, what, command.rate, command.seconds, submit, completedAt);
    say({ event: "done", id: command.id, samples });
  }
}
stop();
await coordinator.close();
await bus.close();
