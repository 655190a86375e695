import { startAdminServer, type AdminServer, type AdminServerOptions } from "../../src/http/admin-server.js";
import type { CoordinatorOptions } from "../../src/create-coordinator.js";
import { embedded, spec, type Embedded } from "../harness.js";

export interface CoordinatorUnderTest extends Embedded {
  admin: AdminServer;
}

/**
 * The real coordinator (createCoordinator on the in-process bus and the memory store, embedded mode's
 * default) behind a started admin server, with three components:
 *
 * - `echo`: a worker returns its JSON input, so its jobs complete;
 * - `poison`: maxDeliver 1 and a worker that always throws, so its jobs are dead-lettered;
 * - `idle`: no worker, so its jobs stay pending or queued until cancelled.
 */
export async function makeCoordinator(
  adminOptions: AdminServerOptions = {},
  extra: Pick<CoordinatorOptions, "connectors" | "env"> = {},
): Promise<CoordinatorUnderTest> {
  const env = await embedded(
    { memory: true },
    [
      { name: "echo", spec: spec() },
      { name: "poison", spec: spec({ maxDeliver: 1 }) },
      { name: "idle", spec: spec() },
    ],
    extra,
  );
  await env.run({
    name: "echo",
    async handle(ctx) {
      return { echoed: await ctx.input.json() };
    },
  });
  await env.run({
    name: "poison",
    retry: { baseDelayMs: 10, maxDelayMs: 20 },
    handle() {
      throw new Error("boom");
    },
  });
  const admin = await startAdminServer(env.coordinator, adminOptions);
  return {
    ...env,
    admin,
    async close() {
      await admin.close();
      await env.close();
    },
  };
}
