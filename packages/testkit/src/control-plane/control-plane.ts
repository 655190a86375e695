import { copyFile, mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { freePort } from "../nats-server.js";
import { clusterBinaries, type ClusterBinaries } from "./binaries.js";
import { httpsOk, kubeRequest, type KubeCredentials, type KubeResponse } from "./kube-http.js";
import { createPki, type CertPair, type ControlPlanePki } from "./pki.js";
import { controlPlaneDir, releaseDir, supervise, waitReady, type Supervised } from "./supervisor.js";

export interface ControlPlaneOptions {
  /** Also run kube-controller-manager: the garbage collector, the ReplicaSet and ServiceAccount controllers. */
  controllerManager?: boolean;
  /** Also run the KEDA operator (its CRDs are installed first). No metrics apiserver: HPAs get no metrics. */
  keda?: boolean;
  /** Only install KEDA's CRDs, so ScaledObjects can be written with no operator acting on them. */
  kedaCrds?: boolean;
}

/** A kubeconfig as client-go and @kubernetes/client-node read it (JSON is YAML). */
export interface Kubeconfig {
  apiVersion: "v1";
  kind: "Config";
  clusters: { name: string; cluster: { server: string; "certificate-authority-data": string } }[];
  users: {
    name: string;
    user: { "client-certificate-data"?: string; "client-key-data"?: string; token?: string };
  }[];
  contexts: { name: string; context: { cluster: string; user: string; namespace?: string } }[];
  "current-context": string;
}

export interface ControlPlane {
  /** `https://127.0.0.1:<port>` */
  server: string;
  /** An admin (system:masters) kubeconfig file, and the same parsed. */
  kubeconfigPath: string;
  kubeconfig: Kubeconfig;
  /** The CA the API server's certificate chains to. */
  caCert: string;
  binaries: ClusterBinaries;
  /** The running servers by name: etcd, kube-apiserver, and kube-controller-manager / keda when asked for. */
  processes: Readonly<Record<string, Supervised>>;
  /** The KEDA operator's Prometheus endpoint (`http://127.0.0.1:<port>/metrics`), when it runs. */
  kedaMetricsUrl?: string;
  /** A request as the admin (see kubeRequest); a string body is sent as `contentType`. */
  request(method: string, path: string, body?: unknown, contentType?: string): Promise<KubeResponse>;
  /** A request with a bearer token (a ServiceAccount's, from the TokenRequest API). */
  requestAs(token: string, method: string, path: string, body?: unknown): Promise<KubeResponse>;
  /** Writes a kubeconfig that authenticates with `token`, for a process that must run as that identity. */
  kubeconfigForToken(token: string, name: string): Promise<string>;
  /** Kills every server and removes the folder (certificates, etcd data, logs). */
  stop(): Promise<void>;
}

const SERVICE_CIDR = "10.0.0.0/24";
const ADMISSION_PLUGINS = [
  "NamespaceLifecycle",
  "LimitRanger",
  "ServiceAccount",
  "PodSecurity",
  "Priority",
  "DefaultTolerationSeconds",
  "DefaultStorageClass",
  "RuntimeClass",
  "MutatingAdmissionWebhook",
  "ValidatingAdmissionPolicy",
  "ValidatingAdmissionWebhook",
  "ResourceQuota",
];
const KEDA_NAMESPACE = "keda";

const b64 = (text: string): string => Buffer.from(text).toString("base64");

function kubeconfigOf(server: string, ca: string, user: Kubeconfig["users"][number]["user"]): Kubeconfig {
  return {
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: "tessera-test", cluster: { server, "certificate-authority-data": b64(ca) } }],
    users: [{ name: "tessera-test", user }],
    contexts: [{ name: "tessera-test", context: { cluster: "tessera-test", user: "tessera-test" } }],
    "current-context": "tessera-test",
  };
}

const certUser = (pair: CertPair): Kubeconfig["users"][number]["user"] => ({
  "client-certificate-data": b64(pair.cert),
  "client-key-data": b64(pair.key),
});

/**
 * A real Kubernetes control plane on loopback, in the spirit of controller-runtime's envtest: etcd and
 * kube-apiserver (RBAC, admission plugins on, Pod Security Admission included, service-account tokens signed
 * with a generated key), optionally kube-controller-manager and the KEDA operator, all on free 127.0.0.1
 * ports, from the binaries `scripts/cluster-binaries.sh` built. No kubelet: pods are admitted, never run.
 * Everything is killed by stop(), on process exit, and (through the parent-death signal) when the test
 * process is SIGKILLed. Starting one takes seconds: share one per test file.
 */
export async function startControlPlane(opts: ControlPlaneOptions = {}): Promise<ControlPlane> {
  const wanted = ["etcd", "kube-apiserver"];
  if (opts.controllerManager === true) wanted.push("kube-controller-manager");
  if (opts.keda === true) wanted.push("keda");
  const binaries = await clusterBinaries(wanted);
  const dir = await controlPlaneDir();
  const processes: Record<string, Supervised> = {};
  const stop = async (): Promise<void> => {
    // Reverse start order; nothing is worth a graceful shutdown, the data is thrown away.
    for (const p of Object.values(processes).reverse()) await p.kill();
    releaseDir(dir);
  };
  try {
    const pki = await createPki(dir);
    const etcd = await startEtcd(binaries, dir);
    processes["etcd"] = etcd.proc;
    const apiserver = await startApiserver(binaries, dir, pki, etcd.url);
    processes["kube-apiserver"] = apiserver.proc;
    const server = apiserver.server;
    const admin: KubeCredentials = { ca: pki.ca.cert, cert: pki.admin.cert, key: pki.admin.key };
    const request = (method: string, path: string, body?: unknown, contentType?: string): Promise<KubeResponse> =>
      kubeRequest(server, admin, method, path, body, contentType);
    const kubeconfig = kubeconfigOf(server, pki.ca.cert, certUser(pki.admin));
    const kubeconfigPath = join(dir, "admin.kubeconfig");
    await writeFile(kubeconfigPath, JSON.stringify(kubeconfig, null, 2));
    // The API server creates `default` and `kube-system` just after it reports ready.
    await waitReady(
      apiserver.proc,
      "the default namespace",
      async () => (await request("GET", "/api/v1/namespaces/default")).status === 200,
      30_000,
    );

    if (opts.controllerManager === true) {
      processes["kube-controller-manager"] = await startControllerManager(binaries, dir, pki, server);
    }
    if (opts.keda === true || opts.kedaCrds === true) await installKedaCrds(binaries, request);
    let kedaMetricsUrl: string | undefined;
    if (opts.keda === true) {
      const keda = await startKeda(binaries, dir, pki, server, request);
      processes["keda"] = keda.proc;
      kedaMetricsUrl = keda.metricsUrl;
    }

    let tokenKubeconfigs = 0;
    return {
      server,
      kubeconfigPath,
      kubeconfig,
      caCert: pki.ca.cert,
      binaries,
      processes,
      ...(kedaMetricsUrl !== undefined ? { kedaMetricsUrl } : {}),
      request,
      requestAs: (token, method, path, body) => kubeRequest(server, { ca: pki.ca.cert, token }, method, path, body),
      kubeconfigForToken: async (token, name) => {
        const path = join(dir, `${name}-${++tokenKubeconfigs}.kubeconfig`);
        await writeFile(path, JSON.stringify(kubeconfigOf(server, pki.ca.cert, { token }), null, 2));
        return path;
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

async function startEtcd(binaries: ClusterBinaries, dir: string): Promise<{ proc: Supervised; url: string }> {
  const [client, peer] = [await freePort(), await freePort()];
  const url = `http://127.0.0.1:${client}`;
  const peerUrl = `http://127.0.0.1:${peer}`;
  const proc = supervise(
    "etcd",
    binaries.etcd,
    [
      "--name=default",
      `--data-dir=${join(dir, "etcd")}`,
      `--listen-client-urls=${url}`,
      `--advertise-client-urls=${url}`,
      `--listen-peer-urls=${peerUrl}`,
      `--initial-advertise-peer-urls=${peerUrl}`,
      `--initial-cluster=default=${peerUrl}`,
      // Test data is thrown away: no fsync keeps a 2-core machine's disk out of the API server's latency.
      "--unsafe-no-fsync=true",
      "--log-level=warn",
    ],
    { dir },
  );
  await waitReady(
    proc,
    "etcd /health",
    async () => {
      const res = await fetch(`${url}/health`);
      return res.ok && ((await res.json()) as { health?: string }).health === "true";
    },
    30_000,
  );
  return { proc, url };
}

async function startApiserver(
  binaries: ClusterBinaries,
  dir: string,
  pki: ControlPlanePki,
  etcdUrl: string,
): Promise<{ proc: Supervised; server: string }> {
  const port = await freePort();
  const server = `https://127.0.0.1:${port}`;
  const proc = supervise(
    "kube-apiserver",
    binaries.kubeApiserver,
    [
      `--etcd-servers=${etcdUrl}`,
      "--bind-address=127.0.0.1",
      "--advertise-address=127.0.0.1",
      `--secure-port=${port}`,
      `--cert-dir=${join(dir, "apiserver-certs")}`,
      `--tls-cert-file=${pki.apiserver.certFile}`,
      `--tls-private-key-file=${pki.apiserver.keyFile}`,
      `--client-ca-file=${pki.ca.certFile}`,
      "--authorization-mode=RBAC",
      `--enable-admission-plugins=${ADMISSION_PLUGINS.join(",")}`,
      `--service-cluster-ip-range=${SERVICE_CIDR}`,
      `--service-account-issuer=${server}`,
      `--service-account-key-file=${pki.serviceAccountPubFile}`,
      `--service-account-signing-key-file=${pki.serviceAccountKeyFile}`,
      // As most clusters run it: a privileged pod is then refused by Pod Security Admission, which is what is tested.
      "--allow-privileged=true",
      "--profiling=false",
    ],
    { dir },
  );
  const admin: KubeCredentials = { ca: pki.ca.cert, cert: pki.admin.cert, key: pki.admin.key };
  // Ready means every post-start hook ran: RBAC's bootstrap roles exist, priority-and-fairness is configured.
  await waitReady(
    proc,
    "kube-apiserver /readyz",
    async () => (await kubeRequest(server, admin, "GET", "/readyz")).status === 200,
    90_000,
  );
  return { proc, server };
}

async function startControllerManager(
  binaries: ClusterBinaries,
  dir: string,
  pki: ControlPlanePki,
  server: string,
): Promise<Supervised> {
  const kubeconfig = join(dir, "controller-manager.kubeconfig");
  await writeFile(kubeconfig, JSON.stringify(kubeconfigOf(server, pki.ca.cert, certUser(pki.controllerManager))));
  const port = await freePort();
  const proc = supervise(
    "kube-controller-manager",
    binaries.kubeControllerManager,
    [
      `--kubeconfig=${kubeconfig}`,
      `--authentication-kubeconfig=${kubeconfig}`,
      `--authorization-kubeconfig=${kubeconfig}`,
      "--bind-address=127.0.0.1",
      `--secure-port=${port}`,
      `--cert-dir=${join(dir, "controller-manager-certs")}`,
      "--leader-elect=false",
      // Signs the tokens the ServiceAccount controllers hand out; the API server verifies them with the pair.
      `--service-account-private-key-file=${pki.serviceAccountKeyFile}`,
      `--root-ca-file=${pki.ca.certFile}`,
      // Each controller under its own ServiceAccount, with the RBAC roles the API server bootstraps, as in a
      // real cluster: a controller that lacked a permission would fail here too.
      "--use-service-account-credentials=true",
      `--service-cluster-ip-range=${SERVICE_CIDR}`,
    ],
    { dir },
  );
  await waitReady(proc, "kube-controller-manager /healthz", () => httpsOk(`https://127.0.0.1:${port}/healthz`), 60_000);
  return proc;
}

type Request = (method: string, path: string, body?: unknown, contentType?: string) => Promise<KubeResponse>;

const CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions";

/** KEDA's CRDs from the module the operator was built from, created as YAML and waited on until Established. */
async function installKedaCrds(binaries: ClusterBinaries, request: Request): Promise<void> {
  const files = (await readdir(binaries.kedaCrds).catch(() => [])).filter((f) => f.endsWith(".yaml")).sort();
  if (files.length === 0)
    throw new Error(`no KEDA CRDs in ${binaries.kedaCrds || "(none listed)"}: run scripts/cluster-binaries.sh`);
  const names: string[] = [];
  for (const file of files) {
    const res = await request("POST", CRDS, await readFile(join(binaries.kedaCrds, file), "utf8"), "application/yaml");
    if (res.status !== 201 && res.status !== 409)
      throw new Error(`installing KEDA CRD ${file}: ${res.status} ${JSON.stringify(res.body)}`);
    names.push(file.replace(/\.yaml$/, "").replace(/^([^_]+)_(.+)$/, "$2.$1"));
  }
  const deadline = Date.now() + 30_000;
  for (const name of names) {
    for (;;) {
      const res = await request("GET", `${CRDS}/${name}`);
      const conditions = (res.body as { status?: { conditions?: { type: string; status: string }[] } }).status
        ?.conditions;
      if (conditions?.some((c) => c.type === "Established" && c.status === "True")) break;
      if (Date.now() > deadline) throw new Error(`KEDA CRD ${name} not Established: ${JSON.stringify(res.body)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

async function startKeda(
  binaries: ClusterBinaries,
  dir: string,
  pki: ControlPlanePki,
  server: string,
  request: Request,
): Promise<{ proc: Supervised; metricsUrl: string }> {
  const ns = await request("POST", "/api/v1/namespaces", { metadata: { name: KEDA_NAMESPACE } });
  if (ns.status !== 201 && ns.status !== 409) throw new Error(`creating namespace keda: ${JSON.stringify(ns.body)}`);
  const kubeconfig = join(dir, "keda.kubeconfig");
  await writeFile(kubeconfig, JSON.stringify(kubeconfigOf(server, pki.ca.cert, certUser(pki.keda))));
  // The operator's gRPC metrics service (for the metrics apiserver, which is not run) still loads a serving
  // pair from --cert-dir at start, under the names its Secret would have.
  const certDir = join(dir, "keda-certs");
  await mkdir(certDir);
  await copyFile(pki.ca.certFile, join(certDir, "ca.crt"));
  await copyFile(pki.kedaServing.certFile, join(certDir, "tls.crt"));
  await copyFile(pki.kedaServing.keyFile, join(certDir, "tls.key"));
  const [metrics, probes, grpc] = [await freePort(), await freePort(), await freePort()];
  const proc = supervise(
    "keda",
    binaries.keda,
    [
      "--leader-elect=false",
      `--metrics-bind-address=127.0.0.1:${metrics}`,
      `--health-probe-bind-address=127.0.0.1:${probes}`,
      `--metrics-service-bind-address=127.0.0.1:${grpc}`,
      `--cert-dir=${certDir}`,
      `--ca-dir=${certDir}`,
      "--enable-cert-rotation=false",
      "--zap-log-level=info",
    ],
    {
      dir,
      env: {
        ...process.env,
        KUBECONFIG: kubeconfig,
        // Every namespace; the operator's own objects (Secrets it may read for TriggerAuthentications) in `keda`.
        WATCH_NAMESPACE: "",
        POD_NAMESPACE: KEDA_NAMESPACE,
        KEDA_CLUSTER_OBJECT_NAMESPACE: KEDA_NAMESPACE,
      },
    },
  );
  await waitReady(
    proc,
    "the KEDA operator /readyz",
    async () => (await fetch(`http://127.0.0.1:${probes}/readyz`)).ok,
    60_000,
  );
  return { proc, metricsUrl: `http://127.0.0.1:${metrics}/metrics` };
}
