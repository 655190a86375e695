import { Type, type Static } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import { compilePolicy, EgressError, type EgressAllowlist } from "@tessera/egress";

/** A source secret's name, as a job's `source_secret_ref` gives it. */
const SOURCE_SECRET_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

/**
 * The secrets a job may name in `source_secret_ref`: each is the value of the Authorization header sent with the
 * fetch, and the origins it may be sent to. Without the origins any submitter could send the coordinator's
 * credentials to a server of their choosing; with them a secret only goes where its owner meant it to.
 */
export const SourceSecretsSchema = Type.Record(
  Type.String({ pattern: SOURCE_SECRET_NAME.source }),
  Type.Object(
    {
      authorization: Type.String({
        minLength: 1,
        maxLength: 8192,
        // Printable ASCII, as a header carries it: a value the HTTP client refused would fail every fetch.
        pattern: "^[!-~][ -~]*$",
        description: "the Authorization header's value, e.g. `Bearer <token>`",
      }),
      origins: Type.Array(Type.String({ minLength: 1, maxLength: 2048 }), {
        minItems: 1,
        maxItems: 64,
        description: "where it may be sent, as origins: https://docs.example.com, http://10.0.0.5:8080",
      }),
    },
    { additionalProperties: false },
  ),
  { additionalProperties: false },
);
export type SourceSecrets = Static<typeof SourceSecretsSchema>;

const SECRETS_EXPECTED =
  'expected JSON {"<name>": {"authorization": "<header value>", "origins": ["https://host[:port]"]}}';

/** Parses without ever repeating the text: it holds secrets. */
function jsonQuietly(text: string, expected: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new Error(`${expected}; it is not JSON (the value is not shown)`);
  }
}

/**
 * Checks `fetch.secrets` and returns it as JSON text, which the settings keep as a secret (never listed, never
 * logged). Its messages name where a problem is, never a value.
 */
export function parseSourceSecrets(value: unknown, fromEnv: boolean): string {
  const secrets = fromEnv && typeof value === "string" ? jsonQuietly(value, SECRETS_EXPECTED) : value;
  if (!Value.Check(SourceSecretsSchema, secrets)) {
    const first = Value.Errors(SourceSecretsSchema, secrets).First();
    throw new Error(`${SECRETS_EXPECTED}; ${first?.path || "(root)"} does not fit (the value is not shown)`);
  }
  for (const [name, secret] of Object.entries(secrets)) {
    secret.origins.forEach((origin, i) => {
      if (originOf(origin) !== origin)
        throw new Error(
          `${SECRETS_EXPECTED}; /${name}/origins/${i} is not an origin (scheme, host and port only, no path or trailing slash)`,
        );
    });
  }
  return JSON.stringify(secrets);
}

/** `fetch.allow`: the Component spec's allowlist, checked the way the egress guard will use it. */
export function parseFetchAllow(value: unknown, fromEnv: boolean): EgressAllowlist {
  const allow = fromEnv && typeof value === "string" ? jsonQuietly(value, "expected a JSON allowlist") : value;
  try {
    compilePolicy(allow as EgressAllowlist);
  } catch (err) {
    if (!(err instanceof EgressError)) throw err;
    throw new Error(
      `expected an allowlist such as {"openInternet": true} or {"cidrs": ["203.0.113.0/24"], "ports": [{"port": 443}]}: ${err.message}`,
    );
  }
  return allow as EgressAllowlist;
}

function originOf(text: string): string | undefined {
  try {
    const url = new URL(text);
    return url.protocol === "http:" || url.protocol === "https:" ? url.origin : undefined;
  } catch {
    return undefined;
  }
}

/** Why a secret cannot be sent with a fetch of `url`, or its Authorization value. */
export type SecretLookup = { authorization: string } | { problem: string };

/** The source secrets this coordinator holds, by name. */
export class SourceSecretBook {
  private readonly byName: ReadonlyMap<string, SourceSecrets[string]>;

  /** `json` is what parseSourceSecrets returned (undefined: no secrets configured). */
  constructor(json: string | undefined) {
    this.byName = new Map(Object.entries(json === undefined ? {} : (JSON.parse(json) as SourceSecrets)));
  }

  /** The Authorization value to send to `url` under `name`, if this coordinator holds it for that origin. */
  lookup(name: string, url: URL): SecretLookup {
    const secret = this.byName.get(name);
    if (secret === undefined)
      return {
        problem: `no source secret named ${JSON.stringify(name)} on this coordinator (fetch.secrets, TESSERA_FETCH_SECRETS)`,
      };
    if (!secret.origins.includes(url.origin))
      return {
        problem: `the source secret ${JSON.stringify(name)} may only be sent to ${secret.origins.join(", ")}, not to ${url.origin}`,
      };
    return { authorization: secret.authorization };
  }
}
