import { request } from "node:https";

/** Who is calling: the CA to trust and a client certificate, or a bearer token. */
export interface KubeCredentials {
  ca: string;
  cert?: string;
  key?: string;
  token?: string;
}

export interface KubeResponse {
  status: number;
  /** The parsed JSON body, or the text when it is not JSON. */
  body: unknown;
}

/**
 * One request to an API server, with no client library: the harness uses it to wait for readiness and to
 * install CRDs, and tests use it where they want the server's exact answer (status code and message).
 * `body` is sent as JSON unless it is a string (then as `contentType`, e.g. YAML).
 */
export function kubeRequest(
  server: string,
  credentials: KubeCredentials,
  method: string,
  path: string,
  body?: unknown,
  contentType = "application/json",
): Promise<KubeResponse> {
  const payload = body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body);
  const url = new URL(path, server);
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method,
        ca: credentials.ca,
        ...(credentials.cert !== undefined ? { cert: credentials.cert, key: credentials.key } : {}),
        headers: {
          accept: "application/json",
          ...(credentials.token !== undefined ? { authorization: `Bearer ${credentials.token}` } : {}),
          ...(payload !== undefined
            ? { "content-type": contentType, "content-length": Buffer.byteLength(payload) }
            : {}),
        },
        timeout: 30_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          let parsed: unknown = text;
          try {
            parsed = JSON.parse(text);
          } catch {
            // not JSON (readyz answers "ok")
          }
          resolve({ status: res.statusCode ?? 0, body: parsed });
        });
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error(`${method} ${path}: no answer in 30 s`)));
    req.on("error", reject);
    req.end(payload);
  });
}

/** True when an https endpoint answers 200, whatever certificate it serves (the controller-manager's is self-signed). */
export function httpsOk(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request(url, { rejectUnauthorized: false, timeout: 2_000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on("timeout", () => req.destroy());
    req.on("error", () => resolve(false));
    req.end();
  });
}
