import { spawn } from "node:child_process";
import { access, readdir } from "node:fs/promises";
import { delimiter, join } from "node:path";

/** A backup or restore that could not be done; `kind` decides the CLI's exit code. */
export class BackupError extends Error {
  override readonly name = "BackupError";
  constructor(
    /** usage: the operator asked for something refused (a non-empty target, not a backup); failed: a tool failed. */
    readonly kind: "usage" | "failed",
    message: string,
  ) {
    super(message);
  }
}

async function executable(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

/**
 * A PostgreSQL client tool: PATH first, then Debian's versioned directories newest first (Debian keeps them
 * off PATH behind a wrapper that needs a configured cluster). The newest is what we want: pg_dump must be at
 * least the server's major version, and pg_restore at least the dump's.
 */
export async function findPgTool(name: "pg_dump" | "pg_restore"): Promise<string> {
  const onPath = (process.env["PATH"] ?? "").split(delimiter).filter((d) => d !== "" && !d.startsWith("/usr/bin"));
  const debian = await readdir("/usr/lib/postgresql").then(
    (versions) => versions.sort((a, b) => Number(b) - Number(a)).map((v) => join("/usr/lib/postgresql", v, "bin")),
    () => [] as string[],
  );
  // /usr/bin's pg_dump is Debian's pg_wrapper, which picks a version by the configured clusters: last resort.
  for (const dir of [...debian, ...onPath, "/usr/bin"]) if (await executable(join(dir, name))) return join(dir, name);
  throw new BackupError(
    "failed",
    `${name} is not installed (looked under /usr/lib/postgresql/*/bin and on PATH). Install it with: apt-get install -y postgresql-client`,
  );
}

/** Runs a tool to its end; stderr is kept for the error message (pg_dump and pg_restore say why there). */
export function runPgTool(
  tool: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(tool, args, { stdio: ["ignore", "pipe", "pipe"], env });
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    child.on("error", (e) => reject(new BackupError("failed", `${tool} could not start: ${e.message}`)));
    child.on("close", (code) => {
      if (code === 0) resolve(out);
      else reject(new BackupError("failed", `${tool} exited with ${code}: ${err.trim()}`));
    });
  });
}

/**
 * The `--dbname` a tool gets and its environment: the password moves from the URL to PGPASSWORD, so it is not
 * in the process list (argv is world-readable in /proc) nor in an error message quoting the command.
 */
export function toolConnection(url: string): { dbname: string; env: NodeJS.ProcessEnv } {
  try {
    const u = new URL(url);
    if (u.password === "") return { dbname: url, env: process.env };
    const password = decodeURIComponent(u.password);
    u.password = "";
    return { dbname: u.toString(), env: { ...process.env, PGPASSWORD: password } };
  } catch {
    // A libpq key=value string: handed over as it is.
    return { dbname: url, env: process.env };
  }
}

/** The URL without its password, for messages and reports. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== "") u.password = "***";
    return u.toString();
  } catch {
    return "(unparsable database URL)";
  }
}
