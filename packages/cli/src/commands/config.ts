import { CONFIG_CLASSES, redactedValue, type ConfigClass } from "@tessera/contract";
import type { ResolvedSetting } from "@tessera/client";
import { CliError } from "../cli-error.js";
import type { RegisterCommands } from "../cli-io.js";
import { ExitCode } from "../exit-codes.js";
import { adminClientFor, withAdminOptions, type AdminOptions } from "../options/admin-options.js";
import { writeJson } from "../output/json.js";
import { styleFor } from "../output/style.js";
import { renderTable } from "../output/table.js";

interface ConfigOptions extends AdminOptions {
  class?: ConfigClass;
}

/** A value for a table cell: strings as they are, anything else as compact JSON, unset as "-". */
function cell(value: unknown): string {
  if (value === null || value === undefined) return "-";
  return typeof value === "string" ? value : JSON.stringify(value);
}

/** Every setting as `tessera config` shows it: the value through the one redaction rule, whatever the server sent. */
function shown(setting: ResolvedSetting): ResolvedSetting {
  return { ...setting, value: redactedValue(setting.class, setting.value) };
}

/** `tessera config [name]`: the coordinator's settings with category, class, source and value (secrets redacted). */
export const registerConfigCommand: RegisterCommands = (program, io) => {
  withAdminOptions(
    program
      .command("config")
      .description("list the coordinator's settings: category, class, source and the value in force (secrets redacted)")
      .argument("[name]", "show only this setting (exit 4 if the coordinator has no setting of that name)")
      .option("--class <class>", `only settings of this class (${CONFIG_CLASSES.join(", ")})`),
  )
    .addHelpText(
      "after",
      `
CATEGORY: bootstrap (read at start-up), operational (the coordinator's own, writable) or shared (stamped into jobs).
CLASS: public, internal, secret (shown as "(set)" or "-", never the value) or local-only (refused outside local).
SOURCE: env, file (the settings file), db or default; the first of them that has a value wins.

Exit codes: 0 ok, 2 usage error, 3 cannot reach the coordinator, 4 no such setting.

Examples:
  $ tessera config
  $ tessera config --class secret
  $ tessera config relay.batchSize --json`,
    )
    .action(async (name: string | undefined, opts: ConfigOptions) => {
      if (opts.class !== undefined && !(CONFIG_CLASSES as readonly string[]).includes(opts.class))
        throw new CliError(
          `--class: expected one of ${CONFIG_CLASSES.join(", ")}, got ${JSON.stringify(opts.class)}`,
          ExitCode.Usage,
        );
      const all = (await adminClientFor(opts, io).settings()).map(shown);
      const items = all.filter(
        (s) => (name === undefined || s.name === name) && (opts.class === undefined || s.class === opts.class),
      );
      if (name !== undefined && items.length === 0 && !all.some((s) => s.name === name))
        throw new CliError(`no setting named ${JSON.stringify(name)}`, ExitCode.NotFound, [
          `known: ${all.map((s) => s.name).join(", ")}`,
        ]);
      if (opts.json === true) {
        writeJson(io.stdout, name === undefined ? { items } : items[0]);
        return;
      }
      const style = styleFor(io.stdout, io.env);
      const rows = items.map((s) => [
        s.name,
        s.category,
        s.class === "secret" ? style.yellow(s.class) : s.class,
        s.source,
        cell(s.value),
      ]);
      io.stdout.write(renderTable(["name", "category", "class", "source", "value"], rows, style));
    });
};
