import { randomBytes } from "node:crypto";
import type { Bus } from "@tessera/bus";
import { createCoordinator, startAdminServer, type AdminServer, type Coordinator } from "@tessera/coordinator";
import type { Egress } from "@tessera/egress";
import type { OAuthTestServer } from "@tessera/testkit";
import { pino } from "pino";

/**
 * A coordinator on the memory store with a vault key and one connector, `mock`, whose provider is `auth` (a real
 * authorization server), behind a started admin server: what the CLI's OAuth commands talk to.
 */
export async function startConnectorsCoordinator(
  bus: Bus,
  auth: OAuthTestServer,
  egress: Egress,
): Promise<{ coordinator: Coordinator; admin: AdminServer }> {
  const coordinator = await createCoordinator({
    bus,
    components: [],
    database: { memory: true },
    env: { TESSERA_VAULT_KEYS: `k1:${randomBytes(32).toString("base64")}` },
    logger: pino({ level: "silent" }),
    connectors: {
      providers: [
        {
          provider: { config: auth.providerConfig("mock") },
          client: { clientId: "tesseracli", clientSecret: "cli-test-secret", redirectUri: "http://127.0.0.1:1/cb" },
        },
      ],
      egress,
      allowInsecureRequests: true,
    },
  });
  return { coordinator, admin: await startAdminServer(coordinator) };
}
