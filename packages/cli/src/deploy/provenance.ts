import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname } from "node:path";
import { buildInfo, type DeployProvenance } from "@tessera/contract";

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

interface GitFactsOfDir {
  commit: string;
  dirty: NonNullable<DeployProvenance["gitDirty"]>;
  email?: string;
}

/** The git facts of one directory, asked once per directory however many specs it holds. */
export class GitFacts {
  private readonly cache = new Map<string, Promise<GitFactsOfDir>>();

  of(dir: string): Promise<GitFactsOfDir> {
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
          dirty: status === undefined ? ("unknown" as const) : status !== "" ? ("true" as const) : ("false" as const),
          ...(email !== undefined && email !== "" ? { email } : {}),
        };
      })();
      this.cache.set(dir, facts);
    }
    return facts;
  }
}

/**
 * Provenance for a spec read from `sourceFile` (absolute), deployed now: who (the git user of its directory, else
 * $USER), its repository's commit and whether the tree was dirty ("unknown" outside a work tree), the Tessera version.
 */
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

/**
 * What a rollback records: the provenance of the revision it goes back to (commit, source file, version: where that
 * spec came from), with who rolls back, when, and `rollbackOf` the revision re-pointed to.
 */
export function rollbackProvenance(
  origin: DeployProvenance,
  deployedBy: string,
  rollbackOf: number | undefined,
): DeployProvenance {
  const { rollbackOf: _previous, ...rest } = origin;
  return {
    ...rest,
    deployedBy,
    deployedAt: new Date().toISOString(),
    ...(rollbackOf !== undefined ? { rollbackOf } : {}),
  };
}
