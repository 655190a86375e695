import type { ComponentStatus } from "@tessera/client";
import type { RegisterCommands } from "../cli-io.js";
import { adminClientFor, withAdminOptions, type AdminOptions } from "../options/admin-options.js";
import { formatCounts } from "../output/format.js";
import { writeJson } from "../output/json.js";
import { styleFor } from "../output/style.js";
import { renderTable } from "../output/table.js";

function queueDepth(status: ComponentStatus): string {
  return status.queueDepth === null ? "unknown" : `${status.queueDepth.pending}/${status.queueDepth.ackPending}`;
}

/** `tessera components [name]`: what the coordinator knows about each component. */
export const registerComponentsCommand: RegisterCommands = (program, io) => {
  withAdminOptions(
    program
      .command("components")
      .description("list components: health, maturity, instances, queue depth and jobs by state")
      .argument("[name]", "show only this component (exit 4 if the coordinator does not know it)"),
  )
    .addHelpText(
      "after",
      `
QUEUE is pending/ack-pending on the bus (what the autoscaler scales on); "unknown" when the bus could not be asked.
MATURITY is the spec's place on the ladder: experimental, beta, stable, hardened (or deprecated).
INSTANCES is healthy/total (an instance that missed three heartbeats is not healthy).

Examples:
  $ tessera components
  $ tessera components extract --json`,
    )
    .action(async (name: string | undefined, opts: AdminOptions) => {
      const client = adminClientFor(opts, io);
      const items = name === undefined ? await client.components() : [await client.component(name)];
      if (opts.json === true) {
        writeJson(io.stdout, name === undefined ? { items } : items[0]);
        return;
      }
      if (items.length === 0) {
        io.stdout.write("no components registered (start them with `tessera dev`)\n");
        return;
      }
      const style = styleFor(io.stdout, io.env);
      const rows = items.map((c) => [
        c.name,
        c.state === "running" ? style.green(c.summary) : style.yellow(c.summary),
        c.maturity === "experimental" || c.maturity === "deprecated" ? style.yellow(c.maturity) : c.maturity,
        `${c.healthyInstances}/${c.instances.length}`,
        queueDepth(c),
        formatCounts(c.jobs),
      ]);
      io.stdout.write(renderTable(["name", "state", "maturity", "instances", "queue", "jobs"], rows, style));
    });
};
