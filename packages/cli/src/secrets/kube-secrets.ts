import * as k8s from "@kubernetes/client-node";
import { CliError } from "../cli-error.js";
import { ExitCode } from "../exit-codes.js";

export interface KubeTarget {
  kubeconfig?: string;
  context?: string;
  namespace?: string;
}

/** The kubeconfig (`--kubeconfig`, else KUBECONFIG / ~/.kube/config), its `--context`, and the namespace to use. */
export function loadKubeTarget(target: KubeTarget): { kubeConfig: k8s.KubeConfig; namespace: string } {
  const kubeConfig = new k8s.KubeConfig();
  try {
    if (target.kubeconfig !== undefined) kubeConfig.loadFromFile(target.kubeconfig);
    else kubeConfig.loadFromDefault();
  } catch (err) {
    throw new CliError(`cannot load the kubeconfig: ${(err as Error).message}`, ExitCode.Usage);
  }
  if (target.context !== undefined) {
    if (kubeConfig.getContextObject(target.context) === null)
      throw new CliError(
        `--context: no context ${JSON.stringify(target.context)} in the kubeconfig (it has ${
          kubeConfig
            .getContexts()
            .map((c) => c.name)
            .join(", ") || "none"
        })`,
        ExitCode.Usage,
      );
    kubeConfig.setCurrentContext(target.context);
  }
  const namespace =
    target.namespace ?? kubeConfig.getContextObject(kubeConfig.getCurrentContext())?.namespace ?? "default";
  return { kubeConfig, namespace };
}

/**
 * A failed API call as a CliError that never carries a Secret value: the status code, the API server's reason
 * and the fields it names (Secret keys, which are not secret), never its message or the request body (a 422's
 * message may quote what was sent). A request that got no answer is "cannot reach".
 */
export function kubeError(what: string, err: unknown, server: string): CliError {
  const code = (err as { code?: unknown }).code;
  // No HTTP answer: the client's own error (connection refused, TLS, DNS), which never holds the request body.
  if (typeof code !== "number")
    return new CliError(
      `${what}: cannot reach the Kubernetes API server at ${server}: ${(err as Error).message}`,
      ExitCode.Unreachable,
    );
  let status: { reason?: string; details?: { causes?: { field?: string; reason?: string }[] } } = {};
  try {
    const body = (err as { body?: unknown }).body;
    status = (typeof body === "string" ? JSON.parse(body) : (body ?? {})) as typeof status;
  } catch {
    // not a Status
  }
  const fields = (status.details?.causes ?? [])
    .map((c) => [c.field, c.reason].filter((x) => x !== undefined).join(" "))
    .filter((x) => x !== "");
  const detail = `${code}${status.reason !== undefined ? ` ${status.reason}` : ""}${fields.length > 0 ? ` (${fields.join("; ")})` : ""}`;
  const exit = code === 404 ? ExitCode.NotFound : code === 409 ? ExitCode.Conflict : ExitCode.Failed;
  const hint = code === 401 || code === 403 ? " (the kubeconfig's user may not do this)" : "";
  return new CliError(`${what}: the API server answered ${detail}${hint}`, exit);
}

/** Reads, creates and patches Secrets in one namespace; values only ever as bytes in memory. */
export class SecretsClient {
  private readonly objects: k8s.KubernetesObjectApi;
  readonly server: string;

  constructor(
    kubeConfig: k8s.KubeConfig,
    readonly namespace: string,
  ) {
    this.objects = k8s.KubernetesObjectApi.makeApiClient(kubeConfig);
    this.server = kubeConfig.getCurrentCluster()?.server ?? "(no server in the kubeconfig)";
  }

  /** The Secret's data (decoded), or undefined when it does not exist. */
  async read(name: string): Promise<Map<string, Uint8Array> | undefined> {
    try {
      const secret = (await this.objects.read({
        apiVersion: "v1",
        kind: "Secret",
        metadata: { name, namespace: this.namespace },
      })) as k8s.V1Secret;
      return new Map(Object.entries(secret.data ?? {}).map(([k, v]) => [k, Buffer.from(v, "base64")]));
    } catch (err) {
      if ((err as { code?: unknown }).code === 404) return undefined;
      throw kubeError(`read Secret ${this.namespace}/${name}`, err, this.server);
    }
  }

  /** Creates the Secret with `data`, or merges `data` into it (keys not named are left as they are). */
  async write(name: string, data: ReadonlyMap<string, string>, exists: boolean): Promise<void> {
    const body = {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name, namespace: this.namespace },
      data: Object.fromEntries([...data].map(([k, v]) => [k, Buffer.from(v, "utf8").toString("base64")])),
    };
    try {
      if (exists)
        await this.objects.patch(
          body,
          undefined,
          undefined,
          "tessera-secrets",
          undefined,
          k8s.PatchStrategy.MergePatch,
        );
      else await this.objects.create(body, undefined, undefined, "tessera-secrets");
    } catch (err) {
      throw kubeError(`${exists ? "update" : "create"} Secret ${this.namespace}/${name}`, err, this.server);
    }
  }
}
