import type { Command } from "commander";
import { AdminClient } from "@tessera/client";
import { DEFAULT_ADMIN_URL, resolveAdminUrl } from "../admin-client.js";
import type { CliIo } from "../cli-io.js";

/** The options every command that talks to the coordinator takes. */
export interface AdminOptions {
  url?: string;
  json?: boolean;
}

export function withAdminOptions(command: Command): Command {
  return command
    .option("--url <url>", `coordinator admin API URL (default: $TESSERA_URL, else ${DEFAULT_ADMIN_URL})`)
    .option("--json", "print machine-readable JSON on stdout instead of tables");
}

export function adminClientFor(opts: AdminOptions, io: CliIo): AdminClient {
  const token = io.env["TESSERA_ADMIN_TOKEN"];
  return new AdminClient(resolveAdminUrl(opts.url, io.env), token !== undefined && token !== "" ? { token } : {});
}
