import { runExample } from "./run-example.js";

const started = performance.now();
console.log("Tessera quickstart: word-count on the embedded default (in-process bus, no services)\n");
const outcomes = await runExample();
const rows = outcomes.map(({ document, result }) => ({
  document,
  status: result.status,
  attempt: result.attempt,
  output:
    result.status === "completed"
      ? JSON.stringify(result.output?.data)
      : `${result.reason_code}: ${result.reason_detail}`,
}));
console.table(rows);
const failed = outcomes.filter((o) => o.result.status === "failed").length;
console.log(
  `\n${outcomes.length} jobs, ${outcomes.length - failed} completed, ${failed} failed (expected: empty.txt fails terminally) in ${Math.round(performance.now() - started)} ms`,
);
