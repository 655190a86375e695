import { MAX_PAGE_SIZE, type AdminClient, type DeadLetterRecord } from "@tessera/client";
import { CliError, usageError } from "../cli-error.js";
import type { CliIo, RegisterCommands } from "../cli-io.js";
import { ExitCode } from "../exit-codes.js";
import { adminClientFor, withAdminOptions, type AdminOptions } from "../options/admin-options.js";
import { positiveInteger } from "../options/parsers.js";
import { formatAge, paintState } from "../output/format.js";
import { writeJson } from "../output/json.js";
import { styleFor } from "../output/style.js";
import { renderTable } from "../output/table.js";
import { collectPages } from "../pagination/collect-pages.js";
import { canAsk, confirm } from "../prompt/confirm.js";

interface ListFlags extends AdminOptions {
  component?: string;
  limit?: number;
  cursor?: string;
  all?: boolean;
}

interface RedriveFlags extends AdminOptions {
  component?: string;
  all?: boolean;
  yes?: boolean;
}

async function allDeadLetters(client: AdminClient, component: string): Promise<DeadLetterRecord[]> {
  const page = await collectPages(
    (cursor) => client.deadLetters({ component, limit: MAX_PAGE_SIZE, ...(cursor !== undefined ? { cursor } : {}) }),
    { all: true },
  );
  return page.items;
}

async function listAction(flags: ListFlags, io: CliIo): Promise<void> {
  const client = adminClientFor(flags, io);
  const filter = {
    ...(flags.component !== undefined ? { component: flags.component } : {}),
    ...(flags.limit !== undefined ? { limit: flags.limit } : {}),
  };
  const page = await collectPages(
    (cursor) => client.deadLetters({ ...filter, ...(cursor !== undefined ? { cursor } : {}) }),
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
  if (items.length === 0) {
    io.stdout.write("no dead letters\n");
  } else {
    const rows = items.map((d) => [
      d.jobId,
      d.component,
      String(d.deliveries),
      d.reasonDetail === "" ? d.reasonCode : `${d.reasonCode}: ${d.reasonDetail}`,
      formatAge(d.deadLetteredAt),
      d.redrivenAt === null ? "" : `${formatAge(d.redrivenAt)} ago`,
    ]);
    io.stdout.write(renderTable(["job", "component", "deliveries", "reason", "age", "redriven"], rows, style));
  }
  if (page.nextCursor !== null) io.stderr.write(`more dead letters: add --cursor ${page.nextCursor} (or --all)\n`);
}

async function redriveAction(jobId: string | undefined, flags: RedriveFlags, io: CliIo): Promise<void> {
  if (jobId !== undefined && (flags.component !== undefined || flags.all === true)) {
    throw usageError("dlq redrive: give a job id, or --component <name> --all, not both");
  }
  const client = adminClientFor(flags, io);
  const style = styleFor(io.stdout, io.env);
  if (jobId !== undefined) {
    const job = await client.redrive(jobId);
    if (flags.json === true) writeJson(io.stdout, job);
    else io.stdout.write(`redrove job ${job.jobId} (${job.component}): now ${paintState(job.state, style)}\n`);
    return;
  }
  if (flags.component === undefined || flags.all !== true) {
    throw usageError(
      "dlq redrive: give a job id, or --component <name> --all to redrive every dead letter of a component",
    );
  }
  const component = flags.component;
  const waiting = (await allDeadLetters(client, component)).filter((d) => d.redrivenAt === null).length;
  if (waiting > 0 && flags.yes !== true) {
    if (!canAsk(io))
      throw usageError(
        `dlq redrive --all: refusing to redrive ${waiting} jobs of ${component} without confirmation (stdin is not a terminal); add --yes`,
      );
    if (!(await confirm(io, `Redrive ${waiting} dead-lettered jobs of ${component}? They run again from the start.`))) {
      throw new CliError("not confirmed; nothing was redriven", ExitCode.Failed);
    }
  }
  // Asked even when none were counted: one may have been dead-lettered since.
  const jobIds = await client.redriveAll(component);
  if (flags.json === true) {
    writeJson(io.stdout, { jobIds });
    return;
  }
  io.stdout.write(
    jobIds.length === 0
      ? `nothing to redrive for ${component}\n`
      : `redrove ${jobIds.length} jobs of ${component}:\n${jobIds.map((id) => `  ${id}\n`).join("")}`,
  );
}

/** `tessera dlq list|redrive`: dead-lettered jobs (failed after maxDeliver attempts) and running them again. */
export const registerDlqCommands: RegisterCommands = (program, io) => {
  const dlq = program
    .command("dlq")
    .description("list and redrive dead-lettered jobs")
    .addHelpText(
      "after",
      "\nExamples:\n  $ tessera dlq list --component extract\n  $ tessera dlq redrive --component extract --all",
    );

  withAdminOptions(
    dlq
      .command("list")
      .description("list dead letters, newest first")
      .option("--component <name>", "only this component's dead letters")
      .option("--limit <n>", `page size, 1 to ${MAX_PAGE_SIZE} (default 50)`, positiveInteger(MAX_PAGE_SIZE))
      .option("--cursor <cursor>", "continue from a previous page")
      .option("--all", "follow every page to the end"),
  )
    .addHelpText("after", "\nExamples:\n  $ tessera dlq list\n  $ tessera dlq list --component extract --json")
    .action((flags: ListFlags) => listAction(flags, io));

  withAdminOptions(
    dlq
      .command("redrive")
      .description("send dead-lettered jobs back to their component")
      .argument("[jobId]", "the job to redrive")
      .option("--component <name>", "with --all: the component whose dead letters to redrive")
      .option("--all", "redrive every dead letter of --component that has not been redriven yet")
      .option("-y, --yes", "do not ask for confirmation (required for --all when stdin is not a terminal)"),
  )
    .addHelpText(
      "after",
      `
Redriving --all asks for confirmation on a terminal; in scripts pass --yes.
Exit 4 if the job is not known, 5 if it is not dead-lettered.

Examples:
  $ tessera dlq redrive job-01HX...
  $ tessera dlq redrive --component extract --all
  $ tessera dlq redrive --component extract --all --yes --json`,
    )
    .action((jobId: string | undefined, flags: RedriveFlags) => redriveAction(jobId, flags, io));
};
