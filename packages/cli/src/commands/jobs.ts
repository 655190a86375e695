import { Option, type Command } from "commander";
import { MAX_PAGE_SIZE, type AdminClient, type JobRecord, type JobState, type SubmitJobBody } from "@tessera/client";
import { MAX_SUBMIT_FILE_BYTES } from "../admin-client.js";
import { ExitStatus, usageError } from "../cli-error.js";
import type { CliIo, RegisterCommands } from "../cli-io.js";
import { ExitCode } from "../exit-codes.js";
import { bulkSubmit, type BulkItem } from "../jobs/bulk-submit.js";
import { followJobs } from "../jobs/follow-jobs.js";
import { describeJob, eventLine, jobsTable } from "../jobs/job-views.js";
import { planSubmit, type SubmitInputFlags } from "../jobs/submit-input.js";
import { adminClientFor, withAdminOptions, type AdminOptions } from "../options/admin-options.js";
import { collect, deadline, jobState, jsonValue, metadataEntry, positiveInteger } from "../options/parsers.js";
import { formatMebibytes, paintState } from "../output/format.js";
import { writeJson, writeJsonLine } from "../output/json.js";
import { createProgress } from "../output/progress.js";
import { styleFor } from "../output/style.js";
import { renderTable } from "../output/table.js";
import { collectPages } from "../pagination/collect-pages.js";

interface SubmitFlags extends AdminOptions, SubmitInputFlags {
  idempotencyKey?: string;
  meta?: Record<string, string>;
  deadline?: string;
  contentType?: string;
  wait?: boolean;
}

interface ListFlags extends AdminOptions {
  component?: string;
  state?: JobState;
  key?: string;
  limit?: number;
  cursor?: string;
  all?: boolean;
}

/** Waits for one job while printing its state changes to `lines`; resolves with the final record. */
async function waitForJob(client: AdminClient, io: CliIo, jobId: string, lines: CliIo["stdout"]): Promise<JobRecord> {
  const style = styleFor(lines, io.env);
  await followJobs(client, { ids: [jobId], onChange: ({ event }) => void lines.write(eventLine(event, style)) });
  return client.job(jobId);
}

async function submitAction(component: string, flags: SubmitFlags, io: CliIo): Promise<void> {
  const client = adminClientFor(flags, io);
  const plan = await planSubmit(flags);
  const base: Omit<SubmitJobBody, "input"> = {
    component,
    ...(flags.idempotencyKey !== undefined ? { idempotencyKey: flags.idempotencyKey } : {}),
    ...(flags.meta !== undefined ? { metadata: flags.meta } : {}),
    ...(flags.deadline !== undefined ? { deadline: flags.deadline } : {}),
    ...(flags.contentType !== undefined ? { contentType: flags.contentType } : {}),
  };
  const style = styleFor(io.stdout, io.env);

  if (plan.kind === "single") {
    const outcome = await client.submit({ ...base, input: plan.input });
    if (flags.wait !== true) {
      if (flags.json === true) writeJson(io.stdout, outcome);
      else
        io.stdout.write(
          `${outcome.created ? "submitted" : "already submitted (same idempotency key):"} job ${outcome.jobId} to ${component} (${paintState(outcome.state, style)})\n`,
        );
      return;
    }
    // With --json, stdout carries only the final record; the state changes go to stderr.
    if (flags.json !== true)
      io.stdout.write(`${outcome.created ? "submitted" : "already submitted:"} job ${outcome.jobId} to ${component}\n`);
    const job = await waitForJob(client, io, outcome.jobId, flags.json === true ? io.stderr : io.stdout);
    if (flags.json === true) writeJson(io.stdout, job);
    else io.stdout.write(describeJob(job, style));
    if (job.state !== "completed") throw new ExitStatus(ExitCode.Failed);
    return;
  }

  const items = await bulkSubmit(client, io, plan.files, base);
  if (flags.wait === true) {
    const byId = new Map(items.flatMap((i) => (i.jobId !== undefined ? [[i.jobId, i] as const] : [])));
    const progress = createProgress(io.stderr);
    await followJobs(client, {
      ids: [...byId.keys()],
      onChange: ({ event, progress: count }) => {
        const item = byId.get(event.jobId);
        if (item !== undefined) {
          item.state = event.state;
          if (event.reasonCode !== null) item.reasonCode = event.reasonCode;
        }
        if (count !== undefined) progress.update(`waiting: ${count.done}/${count.total} done`);
      },
    });
    progress.done(`all ${byId.size} jobs finished`);
  }
  const ok = (i: BulkItem): boolean => i.error === undefined && (flags.wait !== true || i.state === "completed");
  if (flags.json === true) {
    writeJson(io.stdout, { component, items });
  } else {
    const rows = items.map((i) => [
      i.file,
      i.jobId ?? "-",
      i.state === undefined ? style.red("rejected") : paintState(i.state, style),
      i.error ?? i.reasonCode ?? (i.created === false ? "already submitted (same idempotency key)" : ""),
    ]);
    io.stdout.write(renderTable(["file", "job", "state", "note"], rows, style));
  }
  if (!items.every(ok)) throw new ExitStatus(ExitCode.Failed);
}

function registerSubmit(jobs: Command, io: CliIo): void {
  withAdminOptions(
    jobs
      .command("submit")
      .description("submit a job (or one job per file) to a component")
      .argument("<component>", "the component to run it")
      .addOption(
        new Option("--json-input <json>", "the input as JSON")
          .argParser(jsonValue)
          .conflicts(["text", "file", "files"]),
      )
      .addOption(new Option("--text <text>", "the input as text").conflicts(["file", "files", "sourceUrl"]))
      .addOption(
        new Option(
          "--source-url <url>",
          "the input is fetched from this http(s) URL by the coordinator, through its egress guard (fetch-controlled components only)",
        ).conflicts(["jsonInput", "file", "files"]),
      )
      .option(
        "--source-secret <name>",
        "with --source-url: a secret the coordinator holds (fetch.secrets), sent as the Authorization header to its origins",
      )
      .addOption(
        new Option(
          "--file <path>",
          `the input as a file's bytes (a regular file of at most ${formatMebibytes(MAX_SUBMIT_FILE_BYTES)}); repeat for one job per file`,
        ).argParser(collect),
      )
      .addOption(
        new Option(
          "--files <glob|dir>",
          'one job per file: a directory, or a glob such as "docs/*.pdf" (quote it); repeatable',
        ).argParser(collect),
      )
      .option(
        "--key, --idempotency-key <key>",
        "submitting the same key again returns the existing job (with several files: <key>:<file> each)",
      )
      .option("--meta <key=value>", "job metadata; repeat for more", metadataEntry)
      .option(
        "--deadline <time|duration>",
        "give up on the job after this: an ISO-8601 time or a duration from now (30s, 5m, 1h30m)",
        deadline,
      )
      .option("--content-type <type>", "the input's media type, e.g. application/pdf")
      .option("--wait", "wait until the job(s) finish; exit 1 unless all completed"),
  )
    .addHelpText(
      "after",
      `
Examples:
  $ tessera jobs submit word-count --text "hello world" --wait
  $ tessera jobs submit extract --json-input '{"url":"https://example.com/a.pdf"}' --meta tenant=acme
  $ tessera jobs submit extract --file report.pdf --content-type application/pdf --key report-2024
  $ tessera jobs submit extract --source-url https://docs.example.com/report.pdf --wait
  $ tessera jobs submit extract --files 'inbox/*.pdf' --wait --json`,
    )
    .action((component: string, flags: SubmitFlags) => submitAction(component, flags, io));
}

async function listAction(flags: ListFlags, io: CliIo): Promise<void> {
  const client = adminClientFor(flags, io);
  const filter = {
    ...(flags.component !== undefined ? { component: flags.component } : {}),
    ...(flags.state !== undefined ? { state: flags.state } : {}),
    ...(flags.key !== undefined ? { key: flags.key } : {}),
    ...(flags.limit !== undefined ? { limit: flags.limit } : {}),
  };
  const page = await collectPages(
    (cursor) => client.listJobs({ ...filter, ...(cursor !== undefined ? { cursor } : {}) }),
    {
      ...(flags.cursor !== undefined ? { cursor: flags.cursor } : {}),
      all: flags.all === true,
    },
  );
  const { items } = page;
  if (flags.json === true) {
    writeJson(io.stdout, { items, nextCursor: page.nextCursor });
    return;
  }
  const style = styleFor(io.stdout, io.env);
  if (items.length === 0) io.stdout.write("no jobs match\n");
  else io.stdout.write(jobsTable(items, style));
  if (page.nextCursor !== null) io.stderr.write(`more jobs: add --cursor ${page.nextCursor} (or --all)\n`);
}

async function watchAction(ids: string[], flags: AdminOptions & { component?: string }, io: CliIo): Promise<void> {
  if (ids.length > 0 && flags.component !== undefined)
    throw usageError("jobs watch: give job ids or --component <name>, not both");
  const client = adminClientFor(flags, io);
  const style = styleFor(io.stdout, io.env);
  if (ids.length === 0 && io.stderr.isTTY === true)
    io.stderr.write(`watching ${flags.component ?? "all"} jobs at ${client.displayUrl} (Ctrl-C to stop)\n`);
  const states = await followJobs(client, {
    ids: ids.length > 0 ? ids : undefined,
    ...(flags.component !== undefined ? { component: flags.component } : {}),
    onChange: ({ event, progress }) => {
      if (flags.json === true) writeJsonLine(io.stdout, event);
      else io.stdout.write(eventLine(event, style, progress));
    },
  });
  if ([...states.values()].some((s) => s !== "completed")) throw new ExitStatus(ExitCode.Failed);
}

/** `tessera jobs submit|get|list|cancel|watch`. */
export const registerJobsCommands: RegisterCommands = (program, io) => {
  const jobs = program
    .command("jobs")
    .description("submit, inspect, cancel and watch jobs")
    .addHelpText(
      "after",
      '\nExamples:\n  $ tessera jobs submit word-count --text "hello world" --wait\n  $ tessera jobs list --state failed\n  $ tessera jobs watch --component word-count',
    );

  registerSubmit(jobs, io);

  withAdminOptions(jobs.command("get").description("show one job").argument("<id>", "the job id"))
    .addHelpText(
      "after",
      "\nExit 4 if there is no such job.\n\nExamples:\n  $ tessera jobs get job-01HX...\n  $ tessera jobs get job-01HX... --json | jq .output",
    )
    .action(async (id: string, flags: AdminOptions) => {
      const job = await adminClientFor(flags, io).job(id);
      if (flags.json === true) writeJson(io.stdout, job);
      else io.stdout.write(describeJob(job, styleFor(io.stdout, io.env)));
    });

  withAdminOptions(
    jobs
      .command("list")
      .description("list jobs, newest first")
      .option("--component <name>", "only this component's jobs")
      .option("--state <state>", "only jobs in this state (pending, queued, completed, failed, cancelled)", jobState)
      .option("--key <key>", "only jobs with this per-key limit key")
      .option("--limit <n>", `page size, 1 to ${MAX_PAGE_SIZE} (default 50)`, positiveInteger(MAX_PAGE_SIZE))
      .option("--cursor <cursor>", "continue from a previous page")
      .option("--all", "follow every page to the end"),
  )
    .addHelpText(
      "after",
      "\nExamples:\n  $ tessera jobs list --state failed\n  $ tessera jobs list --component extract --all --json",
    )
    .action((flags: ListFlags) => listAction(flags, io));

  withAdminOptions(
    jobs.command("cancel").description("cancel a job that has not finished").argument("<id>", "the job id"),
  )
    .addHelpText(
      "after",
      "\nExit 4 if there is no such job, 5 if it already finished.\n\nExamples:\n  $ tessera jobs cancel job-01HX...",
    )
    .action(async (id: string, flags: AdminOptions) => {
      const job = await adminClientFor(flags, io).cancel(id);
      if (flags.json === true) writeJson(io.stdout, job);
      else io.stdout.write(`cancelled job ${job.jobId} (${job.component})\n`);
    });

  withAdminOptions(
    jobs
      .command("watch")
      .description("print job state changes as they happen")
      .argument("[ids...]", "follow these jobs until all have finished")
      .option("--component <name>", "only this component's jobs (without ids)"),
  )
    .addHelpText(
      "after",
      `
Without ids, runs until interrupted. With ids, exits once every job is completed, failed or cancelled:
0 if all completed, 1 otherwise. --json prints one event per line.

Examples:
  $ tessera jobs watch --component extract
  $ tessera jobs watch job-a job-b job-c`,
    )
    .action((ids: string[], flags: AdminOptions & { component?: string }) => watchAction(ids, flags, io));
};
