/**
 * The baseline's worker: a hand-written nats.js consumer with none of Tessera. It pulls from a work-queue
 * stream, acks each message and, in `with-result` mode, first publishes a result (awaiting JetStream's
 * ack, like a Tessera worker stores its Result before acking the job). In `job-only` mode it only acks.
 * Prints one `{"event":"ready"}` line; reports every handled message on core subject `$DONE_SUBJECT`
 * in batches (a count), so the producer can stop its clock.
 *
 * Env: NATS_URL, STREAM, CONSUMER, MODE (job-only | with-result), RESULT_SUBJECT, DONE_SUBJECT.
 */
import { jetstream } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";

const env = (name: string): string => {
  const v = process.env[name];
  if (v === undefined || v === "") throw new Error(`${name} is not set`);
  return v;
};
const mode = env("MODE");
const resultSubject = process.env["RESULT_SUBJECT"] ?? "";
const doneSubject = env("DONE_SUBJECT");

const nc = await connect({ servers: env("NATS_URL"), name: "bench-raw-consumer" });
const js = jetstream(nc);
const consumer = await js.consumers.get(env("STREAM"), env("CONSUMER"));
const messages = await consumer.consume({ max_messages: 1_000 });
process.stdout.write(`${JSON.stringify({ event: "ready" })}\n`);

let unreported = 0;
const report = setInterval(() => {
  if (unreported === 0) return;
  nc.publish(doneSubject, String(unreported));
  unreported = 0;
}, 2);

for await (const m of messages) {
  if (mode === "with-result") {
    // Not awaited in the loop: the consumer handles many messages at once, as a Tessera worker does.
    void js.publish(resultSubject, m.data).then(
      () => {
        m.ack();
        unreported += 1;
      },
      () => m.nak(),
    );
  } else {
    m.ack();
    unreported += 1;
  }
}
clearInterval(report);
