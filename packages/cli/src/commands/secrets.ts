import type { Command } from "commander";
import type { CliIo } from "../cli-io.js";
import { CliError, ExitStatus } from "../cli-error.js";
import { ExitCode } from "../exit-codes.js";
import { FileRefusedError, readRegularFile } from "../files/read-regular-file.js";
import {
  formatManifestProblem,
  loadComponentManifests,
  manifestExitCode,
} from "../manifests/load-component-manifests.js";
import { writeJson } from "../output/json.js";
import { styleFor } from "../output/style.js";
import { renderTable } from "../output/table.js";
import { SecretsClient, loadKubeTarget, type KubeTarget } from "../secrets/kube-secrets.js";
import {
  MAX_SECRETS_FILE_BYTES,
  diffSecrets,
  parseSecretsFile,
  valueHasher,
  type SecretsFile,
} from "../secrets/secrets-file.js";

interface SecretsOptions extends KubeTarget {
  json?: boolean;
}
interface SyncOptions extends SecretsOptions {
  dryRun?: boolean;
}

function kubeOptions(command: Command): Command {
  return command
    .option("--kubeconfig <file>", "kubeconfig to use (default KUBECONFIG, else ~/.kube/config)")
    .option("--context <name>", "kubeconfig context (default: its current context)")
    .option("--namespace <ns>", "namespace of the Secrets (default: the context's namespace, else default)")
    .option("--json", "print a machine-readable document instead of a table");
}

async function readSecretsFile(path: string): Promise<SecretsFile> {
  let text: string;
  try {
    text = (await readRegularFile(path, MAX_SECRETS_FILE_BYTES)).toString("utf8");
  } catch (err) {
    if (err instanceof FileRefusedError) throw new CliError(`cannot read ${path}: ${err.reason}`, ExitCode.Usage);
    throw err;
  }
  const { file, problems } = parseSecretsFile(text);
  if (problems.length > 0)
    throw new CliError(
      `${path}: not a secrets file (Secret name → key → value); values are never shown`,
      ExitCode.Usage,
      problems.map(
        (p) => `${p.line !== undefined ? `line ${p.line}: ` : ""}${p.path}: expected ${p.expected}, got ${p.received}`,
      ),
    );
  return file;
}

export function registerSecretsCommands(program: Command, io: CliIo): void {
  const secrets = program
    .command("secrets")
    .description("check, sync and diff the Kubernetes Secrets components name in secretRefs (values are never printed)")
    .addHelpText(
      "after",
      `
The secrets file (sync, diff) is YAML: Secret name → key → value, e.g.
  openai:
    api-key: sk-...

Examples:
  $ tessera secrets check components/*.yaml --namespace docs
  $ tessera secrets sync secrets.local.yaml --namespace docs
  $ tessera secrets diff secrets.local.yaml --namespace docs

Exit codes: 0 ok (check: all present; diff: no difference), 1 missing (check) or different (diff) or the API
server refused, 2 usage error, 3 cannot reach the API server.`,
    );

  kubeOptions(
    secrets
      .command("check")
      .description("check that every secretRef of the given Components exists in the cluster with its key")
      .argument("<files...>", "Component manifests (YAML or JSON)"),
  ).action(async (files: string[], opts: SecretsOptions) => {
    const { manifests, problems } = await loadComponentManifests(files);
    if (problems.length > 0) {
      for (const p of problems) io.stderr.write(`${formatManifestProblem(p)}\n`);
      throw new ExitStatus(manifestExitCode(problems));
    }
    const { kubeConfig, namespace } = loadKubeTarget(opts);
    const client = new SecretsClient(kubeConfig, namespace);
    const cache = new Map<string, Promise<Map<string, Uint8Array> | undefined>>();
    const rows: { component: string; secret: string; key: string; state: "ok" | "missing-secret" | "missing-key" }[] =
      [];
    for (const m of manifests)
      for (const ref of m.spec.secretRefs ?? []) {
        const key = ref.key ?? ref.name;
        if (!cache.has(ref.name)) cache.set(ref.name, client.read(ref.name));
        const data = await cache.get(ref.name);
        rows.push({
          component: m.name,
          secret: ref.name,
          key,
          state: data === undefined ? "missing-secret" : data.has(key) ? "ok" : "missing-key",
        });
      }
    const missing = rows.filter((r) => r.state !== "ok").length;
    if (opts.json === true) writeJson(io.stdout, { namespace, refs: rows, missing });
    else if (rows.length === 0) io.stdout.write("no secretRefs in these components\n");
    else {
      const style = styleFor(io.stdout, io.env);
      io.stdout.write(
        renderTable(
          ["component", "secret", "key", "state"],
          rows.map((r) => [r.component, r.secret, r.key, r.state === "ok" ? style.green(r.state) : style.red(r.state)]),
          style,
        ),
      );
      io.stderr.write(
        missing === 0
          ? `all ${rows.length} secretRefs present in namespace ${namespace}\n`
          : `${missing} of ${rows.length} secretRefs missing in namespace ${namespace}\n`,
      );
    }
    if (missing > 0) throw new ExitStatus(ExitCode.Failed);
  });

  kubeOptions(
    secrets
      .command("sync")
      .description("create or update Secrets from a local file (only the keys it names; nothing is deleted)")
      .argument("<file>", "the secrets file: YAML, Secret name → key → value")
      .option("--dry-run", "show what would change, write nothing"),
  ).action(async (path: string, opts: SyncOptions) => {
    const file = await readSecretsFile(path);
    const { kubeConfig, namespace } = loadKubeTarget(opts);
    const client = new SecretsClient(kubeConfig, namespace);
    const hash = valueHasher();
    const results: { secret: string; action: "created" | "updated" | "unchanged"; keys: string[] }[] = [];
    for (const [name, data] of file) {
      const live = await client.read(name);
      const changed = [...data.keys()].filter((k) => {
        const current = live?.get(k);
        return current === undefined || hash(current) !== hash(Buffer.from(data.get(k) as string, "utf8"));
      });
      const action = live === undefined ? "created" : changed.length > 0 ? "updated" : "unchanged";
      // A Secret already as the file says is not written at all.
      if (action !== "unchanged" && opts.dryRun !== true) await client.write(name, data, live !== undefined);
      results.push({ secret: name, action, keys: changed.sort() });
    }
    if (opts.json === true) writeJson(io.stdout, { namespace, dryRun: opts.dryRun === true, secrets: results });
    else {
      const style = styleFor(io.stdout, io.env);
      io.stdout.write(
        renderTable(
          ["secret", opts.dryRun === true ? "would be" : "action", "keys changed"],
          results.map((r) => [r.secret, r.action, r.keys.join(", ") || "-"]),
          style,
        ),
      );
    }
  });

  kubeOptions(
    secrets
      .command("diff")
      .description("compare a local secrets file with the cluster: names and salted SHA-256 hashes, never values")
      .argument("<file>", "the secrets file: YAML, Secret name → key → value"),
  ).action(async (path: string, opts: SecretsOptions) => {
    const file = await readSecretsFile(path);
    const { kubeConfig, namespace } = loadKubeTarget(opts);
    const client = new SecretsClient(kubeConfig, namespace);
    const cluster = new Map<string, Map<string, Uint8Array> | undefined>();
    for (const name of file.keys()) cluster.set(name, await client.read(name));
    const rows = diffSecrets(file, cluster, valueHasher());
    const differences = rows.filter((r) => r.state !== "same").length;
    if (opts.json === true) writeJson(io.stdout, { namespace, salted: true, keys: rows, differences });
    else {
      const style = styleFor(io.stdout, io.env);
      io.stdout.write(
        renderTable(
          ["secret", "key", "local", "cluster", "state"],
          rows.map((r) => [
            r.secret,
            r.key,
            r.local ?? "-",
            r.cluster ?? "-",
            r.state === "same" ? style.green(r.state) : style.yellow(r.state),
          ]),
          style,
        ),
      );
      io.stderr.write(
        `hashes are salted per run (compare within this output only); ${differences === 0 ? "no differences" : `${differences} difference(s)`}\n`,
      );
    }
    if (differences > 0) throw new ExitStatus(ExitCode.Failed);
  });
}
