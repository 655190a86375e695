/**
 * Measures what the hostile documents of issue 16 do to `tessera dev examples/documents` (embedded: the
 * coordinator, the admin API and extract share one process) and what loading pdf.js does to the process's
 * JSON; prints Markdown tables (the figures in the README come from here):
 *   node --conditions=@tessera/source --import tsx examples/documents/scripts/measure-hostile.ts
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { startTesseraDev } from "@tessera/testkit";
import extract from "../src/extract.js";
import { loadSamples } from "../src/samples.js";
import { HOSTILE_DOCUMENTS, type HostileDocument } from "../test/fixtures/hostile.js";
import { runHostile, warmHost } from "../test/hostile-run.js";
import { startInProcessPipeline } from "../test/in-process-pipeline.js";

const DOCUMENTS = fileURLToPath(new URL("..", import.meta.url));
const mb = (bytes: number): string => `${Math.round(bytes / 1e6)} MB`;
const ms = (n: number): string => `${Math.round(n).toLocaleString("en-US")} ms`;
const rss = (pid: number): number =>
  Number(/^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1]) * 1024;

async function row(doc: HostileDocument, label: string, warm: boolean): Promise<void> {
  // A host of its own for each document: one still busy with the last would blur the next one's figures.
  // Warmed, as a host that has been running would be; else its parser threads start with the document.
  const dev = await startTesseraDev(DOCUMENTS, [], {}, { readyTimeoutMs: 300_000 });
  await warmHost(dev, { parsers: warm });
  const pid = dev.process.proc.pid ?? 0;
  const before = rss(pid);
  const run = await runHostile(dev, doc, { waitMs: 180_000 });
  await dev.stop();
  const { job, host } = run;
  const ended = host.exited
    ? "**host crashed**"
    : job === undefined
      ? "not decided in 180 s"
      : `${job.state}${job.reasonCode === null ? "" : ` \`${job.reasonCode}\``}`;
  const { healthz } = host;
  console.log(
    `| ${label} | ${doc.bytes().byteLength.toLocaleString("en-US")} | ${ms(doc.wallClockMs)} | ${ended} | ${ms(run.elapsedMs)} | ${ms(healthz.maxOwnMs)} | ${ms(healthz.maxMs)} | ${healthz.failed} of ${healthz.requests} | ${mb(before)} → ${mb(host.peakRssBytes)} |`,
  );
}

console.log(
  "| document | bytes | wall clock | ended | took | /healthz slowest, host's part | /healthz slowest | /healthz failed | host RSS before → peak |",
);
console.log("|---|---:|---:|---|---:|---:|---:|---:|---:|");
for (const doc of HOSTILE_DOCUMENTS) await row(doc, doc.name, true);
const dag = HOSTILE_DOCUMENTS.find((d) => d.contentType === "application/pdf");
if (dag !== undefined) await row(dag, `${dag.name}, to a host that has parsed nothing yet`, false);

// What extracting one PDF does to this process's JSON.stringify: 7 MB of JSON, median of five.
const value = Array.from({ length: 100_000 }, (_, i) => ({
  id: i,
  name: `document ${i}`,
  tags: ["a", "b"],
  size: i * 7,
}));
const stringifyMs = (): number => {
  const times = Array.from({ length: 5 }, () => {
    const started = performance.now();
    JSON.stringify(value);
    return performance.now() - started;
  });
  return times.sort((a, b) => a - b)[2] ?? NaN;
};
const nativeStringify = JSON.stringify;
const before = stringifyMs();
const pipeline = await startInProcessPipeline([extract]);
const invoice = loadSamples(new URL("../samples/", import.meta.url)).find((s) => s.label === "invoice.pdf");
const result = await pipeline.run("extract", { contentType: "application/pdf", input: invoice?.bytes });
const after = stringifyMs();
await pipeline.stop();
console.log(
  `\n| JSON.stringify of ${mb(JSON.stringify(value).length)} | before a PDF | after a PDF (${result.status}) | replaced |`,
);
console.log("|---|---:|---:|---|");
console.log(
  `| in the process that extracted it | ${ms(before)} | ${ms(after)} | ${JSON.stringify !== nativeStringify ? "yes" : "no"} |`,
);
process.exit(0);
