import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname } from "node:path";
import { buildInfo } from "@tessera/contract";

/** Where a spec came from and who sent it: what a deploy records on the Component (and the controller on its revision). */
export interface DeployProvenance {
  deployedBy: string;
  /** The commit of the spec file's repository, or "unknown" outside a git work tree. */
  gitCommit: string;
  /** Whether the work tree had uncommitted changes: the commit alone does not describe what was deployed. */
  gitDirty: boolean | "unknown";
  deployedAt: string;
  sourceFile: string;
  tesseraVersion: string;
}

function git(args: string[], cwd: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile("git", args, { cwd, timeout: 10_000, maxBuffer: 4 * 1024 * 1024 }, (err, stdout) =>
      resolve(err === null ? stdout.trim() : undefined),
    );
  });
}

/** The CLI's own package version: what runs when no image set TESSERA_VERSION. */
function packageVersion(): string | undefined {
  try {
    const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
      version?: unknown;
    };
    return typeof pkg.version === "string" ? pkg.version : undefined;
  } catch {
    return undefined;
  }
}

export function tesseraVersion(env: Readonly<Record<string, string | undefined>>): string {
  const built = buildInfo(env).version;
  return built !== "dev" ? built : (packageVersion() ?? built);
}

/** The git facts of one directory, asked once per directory however many specs it holds. */
export class GitFacts {
  private readonly cache = new Map<string, Promise<{ commit: string; dirty: boolean | "unknown"; email?: string }>>();

  of(dir: string): Promise<{ commit: string; dirty: boolean | "unknown"; email?: string }> {
    let facts = this.cache.get(dir);
    if (facts === undefined) {
      facts = (async () => {
        const [commit, status, email] = await Promise.all([
          git(["rev-parse", "HEAD"], dir),
          git(["status", "--porcelain"], dir),
          git(["config", "user.email"], dir),
        ]);
        return {
          commit: commit !== undefined && commit !== "" ? commit : "unknown",
          dirty: status === undefined ? ("unknown" as const) : status !== "",
          ...(email !== undefined && email !== "" ? { email } : {}),
        };
      })();
      this.cache.set(dir, facts);
    }
    return facts;
  }
}

/** Provenance for a spec read from `sourceFile` (absolute), deployed now. */
export async function provenanceFor(
  sourceFile: string,
  env: Readonly<Record<string, string | undefined>>,
  facts: GitFacts,
  now: Date = new Date(),
): Promise<DeployProvenance> {
  const repo = await facts.of(dirname(sourceFile));
  return {
    deployedBy: repo.email ?? env["USER"] ?? "unknown",
    gitCommit: repo.commit,
    gitDirty: repo.dirty,
    deployedAt: now.toISOString(),
    sourceFile,
    tesseraVersion: tesseraVersion(env),
  };
}

/** Who runs a command that has no spec file (rollback): the git user of the working directory, else $USER. */
export async function whoDeploys(
  env: Readonly<Record<string, string | undefined>>,
  facts = new GitFacts(),
): Promise<string> {
  return (await facts.of(process.cwd())).email ?? env["USER"] ?? "unknown";
}
