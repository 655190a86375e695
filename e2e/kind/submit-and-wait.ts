/**
 * e2e helper: publishes N jobs for a component straight onto its stream and waits for their Results.
 * Exit 0 when every job completed and reported the internet as blocked; 1 otherwise.
 * Usage: submit-and-wait.ts <nats-url> <component> <count>
 */
import { connectJetStreamBus } from "@tessera/bus";
import { SCHEMA_VERSION } from "@tessera/contract";

const [url = "nats://127.0.0.1:14222", component = "e2e-probe", countText = "5"] = process.argv.slice(2);
const count = Number(countText);
const bus = await connectJetStreamBus({ servers: url, name: "tessera-e2e", provision: false });
const run = Date.now().toString(36);
const ids = Array.from({ length: count }, (_, i) => `e2e-${run}-${i}`);
for (const job_id of ids) {
  await bus.publishJob({
    schema_version: SCHEMA_VERSION,
    job_id,
    component,
    content_type: "application/json",
    limits: { max_bytes: 1024, wall_clock: 20_000 },
    input: { inline: {} },
  });
}
console.log(`published ${count} jobs; waiting for Results (KEDA scales the component from zero first)`);
const deadline = Date.now() + 300_000;
const results = new Map<string, unknown>();
while (results.size < ids.length && Date.now() < deadline) {
  for (const id of ids) {
    if (results.has(id)) continue;
    const result = await bus.getResult(component, id);
    if (result !== undefined) results.set(id, result);
  }
  await new Promise((r) => setTimeout(r, 1_000));
}
await bus.close();
console.log(JSON.stringify([...results.values()], null, 2));
const ok = ids.every((id) => {
  const r = results.get(id) as { status?: string; output?: { data?: { internet?: string } } } | undefined;
  return r?.status === "completed" && r.output?.data?.internet?.startsWith("blocked") === true;
});
console.log(
  ok
    ? `e2e: ${count} jobs completed; the internet was blocked for every one`
    : `e2e: FAILED (${results.size}/${count} Results)`,
);
process.exit(ok ? 0 : 1);
