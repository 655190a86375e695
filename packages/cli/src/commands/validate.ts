import { ExitStatus } from "../cli-error.js";
import type { RegisterCommands } from "../cli-io.js";
import { ExitCode } from "../exit-codes.js";
import {
  formatManifestProblem,
  loadComponentManifests,
  manifestExitCode,
  MANIFEST_API_VERSION,
} from "../manifests/load-component-manifests.js";
import { writeJson } from "../output/json.js";
import { styleFor } from "../output/style.js";

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? "" : "s"}`;

/** `tessera validate <files...>`: checks Component manifests offline; no coordinator needed. */
export const registerValidateCommand: RegisterCommands = (program, io) => {
  program
    .command("validate")
    .description("check Component manifests (YAML or JSON, several --- documents per file) without deploying anything")
    .argument("<files...>", "manifest files")
    .option("--json", "print {ok, manifests, problems} as JSON on stdout")
    .addHelpText(
      "after",
      `
Each document must be apiVersion ${MANIFEST_API_VERSION}, kind Component, with metadata.name (a DNS-1123 label)
and a valid spec. Problems print as "file:line: field: expected X, got Y".

Exit codes: 0 all valid, 1 problems found, 2 a file could not be read or is not valid YAML or JSON (an alias bomb
included); the others are still checked.

Examples:
  $ tessera validate components/*.yaml
  $ tessera validate extract.yaml --json | jq '.problems[]'`,
    )
    .action(async (files: string[], opts: { json?: boolean }) => {
      const { manifests, problems } = await loadComponentManifests(files);
      const code = manifestExitCode(problems);
      if (opts.json === true) {
        writeJson(io.stdout, { ok: problems.length === 0, manifests, problems });
      } else {
        const style = styleFor(io.stdout, io.env);
        for (const problem of problems) io.stdout.write(`${formatManifestProblem(problem)}\n`);
        const names = manifests.map((m) => m.name).join(", ");
        const summary =
          problems.length === 0
            ? style.green(
                `ok: ${plural(manifests.length, "valid component")} in ${plural(files.length, "file")}${names === "" ? "" : ` (${names})`}`,
              )
            : style.red(
                `${plural(problems.length, "problem")} in ${plural(new Set(problems.map((p) => p.file)).size, "file")}; ${plural(manifests.length, "valid component")}`,
              );
        io.stdout.write(`${summary}\n`);
      }
      if (code !== ExitCode.Ok) throw new ExitStatus(code);
    });
};
