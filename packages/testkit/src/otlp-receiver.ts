import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

/** OTLP's span kinds (the `kind` number of a span in OTLP/JSON). */
export const OtlpSpanKind = { internal: 1, server: 2, client: 3, producer: 4, consumer: 5 } as const;

export type OtlpValue = string | number | boolean | undefined;

/** One span as an OTLP/JSON export carries it, flattened with its resource's and scope's names. */
export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string | undefined;
  name: string;
  kind: number;
  attributes: Record<string, OtlpValue>;
  links: Array<{ traceId: string; spanId: string; attributes: Record<string, OtlpValue> }>;
  status: { code?: number; message?: string } | undefined;
  resource: Record<string, OtlpValue>;
  scope: string;
}

export interface OtlpReceiver {
  /** The base URL for `OTEL_EXPORTER_OTLP_ENDPOINT` (the exporters post to `${url}/v1/traces`). */
  url: string;
  /** Every span received so far. */
  spans(): ReceivedSpan[];
  /** Requests that were not OTLP/JSON trace exports (wrong path, content type or body), with why. */
  rejected(): string[];
  close(): Promise<void>;
}

interface JsonAnyValue {
  stringValue?: string;
  intValue?: string | number;
  doubleValue?: number;
  boolValue?: boolean;
}
interface JsonKeyValue {
  key: string;
  value?: JsonAnyValue;
}
interface JsonSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes?: JsonKeyValue[];
  links?: Array<{ traceId: string; spanId: string; attributes?: JsonKeyValue[] }>;
  status?: { code?: number; message?: string };
}
interface JsonExport {
  resourceSpans?: Array<{
    resource?: { attributes?: JsonKeyValue[] };
    scopeSpans?: Array<{ scope?: { name?: string }; spans?: JsonSpan[] }>;
  }>;
}

function value(v: JsonAnyValue | undefined): OtlpValue {
  if (v === undefined) return undefined;
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.intValue !== undefined) return Number(v.intValue);
  if (v.doubleValue !== undefined) return v.doubleValue;
  return v.boolValue;
}

function attributes(list: JsonKeyValue[] | undefined): Record<string, OtlpValue> {
  return Object.fromEntries((list ?? []).map((kv) => [kv.key, value(kv.value)]));
}

/**
 * A loopback OTLP/HTTP receiver for tests: accepts JSON trace exports (`OTEL_EXPORTER_OTLP_PROTOCOL=http/json`)
 * at `/v1/traces`, as a collector does, and keeps the spans. Anything else is answered 400 and remembered.
 */
export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const received: ReceivedSpan[] = [];
  const rejected: string[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const refuse = (why: string): void => {
        rejected.push(why);
        res.writeHead(400, { "content-type": "application/json" }).end(JSON.stringify({ message: why }));
      };
      if (req.method !== "POST" || req.url !== "/v1/traces") return refuse(`${req.method} ${req.url}`);
      if (!(req.headers["content-type"] ?? "").startsWith("application/json"))
        return refuse(`content-type ${req.headers["content-type"] ?? "(none)"}`);
      let body: JsonExport;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as JsonExport;
      } catch (err) {
        return refuse(`not JSON: ${String(err)}`);
      }
      for (const rs of body.resourceSpans ?? []) {
        const resource = attributes(rs.resource?.attributes);
        for (const ss of rs.scopeSpans ?? [])
          for (const s of ss.spans ?? [])
            received.push({
              traceId: s.traceId,
              spanId: s.spanId,
              parentSpanId: s.parentSpanId === "" ? undefined : s.parentSpanId,
              name: s.name,
              kind: s.kind,
              attributes: attributes(s.attributes),
              links: (s.links ?? []).map((l) => ({
                traceId: l.traceId,
                spanId: l.spanId,
                attributes: attributes(l.attributes),
              })),
              status: s.status,
              resource,
              scope: ss.scope?.name ?? "",
            });
      }
      res.writeHead(200, { "content-type": "application/json" }).end("{}");
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    spans: () => [...received],
    rejected: () => [...rejected],
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
