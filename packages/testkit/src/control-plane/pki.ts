import { execFile } from "node:child_process";
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";

const execFileAsync = promisify(execFile);

/** A certificate and its key, as PEM files in the control plane's folder and as text. */
export interface CertPair {
  certFile: string;
  keyFile: string;
  cert: string;
  key: string;
}

export interface ControlPlanePki {
  ca: CertPair;
  /** The API server's serving certificate: 127.0.0.1, localhost and the in-cluster names. */
  apiserver: CertPair;
  /** Client certificates in system:masters (RBAC's superuser group), one per caller for readable audit. */
  admin: CertPair;
  controllerManager: CertPair;
  keda: CertPair;
  /** KEDA's gRPC metrics service wants a serving pair in its --cert-dir, named as its Secret would be. */
  kedaServing: CertPair;
  /** The service-account token signing key pair (RSA: the algorithm every client of tokens accepts). */
  serviceAccountKeyFile: string;
  serviceAccountPubFile: string;
}

async function openssl(args: string[]): Promise<void> {
  try {
    await execFileAsync("openssl", args, { timeout: 30_000 });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`openssl ${args[0]} failed: ${e.message}\n${e.stderr ?? ""}`);
  }
}

async function pair(dir: string, name: string): Promise<CertPair> {
  const certFile = join(dir, `${name}.crt`);
  const keyFile = join(dir, `${name}.key`);
  return { certFile, keyFile, cert: await readFile(certFile, "utf8"), key: await readFile(keyFile, "utf8") };
}

/** An EC P-256 key and a certificate for it signed by the CA; `ext` is the X.509 v3 extension section. */
async function issue(dir: string, ca: CertPair, name: string, subject: string, ext: string[]): Promise<CertPair> {
  const csr = join(dir, `${name}.csr`);
  const extFile = join(dir, `${name}.ext`);
  await writeFile(extFile, ext.join("\n") + "\n");
  await openssl([
    "req",
    "-new",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
    "-keyout",
    join(dir, `${name}.key`),
    "-subj",
    subject,
    "-out",
    csr,
  ]);
  await openssl([
    "x509",
    "-req",
    "-in",
    csr,
    "-CA",
    ca.certFile,
    "-CAkey",
    ca.keyFile,
    // Not -CAcreateserial: the certificates are issued in parallel and would race on the serial file.
    "-set_serial",
    `0x${randomBytes(8).toString("hex")}`,
    "-days",
    "2",
    "-extfile",
    extFile,
    "-out",
    join(dir, `${name}.crt`),
  ]);
  return pair(dir, name);
}

const client = (): string[] => [
  "basicConstraints=CA:FALSE",
  "keyUsage=digitalSignature",
  "extendedKeyUsage=clientAuth",
];

/**
 * A throwaway PKI for one control plane: a CA valid for two days, the API server's serving certificate, client
 * certificates and the service-account signing keys. EC keys keep it to a few hundred milliseconds.
 */
export async function createPki(dir: string): Promise<ControlPlanePki> {
  await openssl([
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
    "-keyout",
    join(dir, "ca.key"),
    "-out",
    join(dir, "ca.crt"),
    "-days",
    "2",
    "-subj",
    "/CN=tessera-test-ca",
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign,cRLSign,digitalSignature",
  ]);
  const ca = await pair(dir, "ca");
  const serving = (names: string): string[] => [
    "basicConstraints=CA:FALSE",
    "keyUsage=digitalSignature,keyEncipherment",
    "extendedKeyUsage=serverAuth",
    `subjectAltName=${names}`,
  ];
  const [apiserver, admin, controllerManager, keda, kedaServing] = await Promise.all([
    issue(
      dir,
      ca,
      "apiserver",
      "/CN=kube-apiserver",
      // 10.0.0.1 is the `kubernetes` Service's address in the service range the API server is given.
      serving(
        "IP:127.0.0.1,IP:10.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc",
      ),
    ),
    issue(dir, ca, "admin", "/O=system:masters/CN=tessera-admin", client()),
    issue(dir, ca, "controller-manager", "/O=system:masters/CN=tessera-controller-manager", client()),
    issue(dir, ca, "keda", "/O=system:masters/CN=tessera-keda-operator", client()),
    issue(dir, ca, "keda-serving", "/CN=keda-operator", serving("IP:127.0.0.1,DNS:localhost")),
  ]);
  const { privateKey, publicKey } = generateKeyPairSync("rsa", {
    modulusLength: 2048,
    publicKeyEncoding: { type: "spki", format: "pem" },
    privateKeyEncoding: { type: "pkcs8", format: "pem" },
  });
  const serviceAccountKeyFile = join(dir, "sa.key");
  const serviceAccountPubFile = join(dir, "sa.pub");
  await writeFile(serviceAccountKeyFile, privateKey, { mode: 0o600 });
  await writeFile(serviceAccountPubFile, publicKey);
  return {
    ca,
    apiserver,
    admin,
    controllerManager,
    keda,
    kedaServing,
    serviceAccountKeyFile,
    serviceAccountPubFile,
  };
}
