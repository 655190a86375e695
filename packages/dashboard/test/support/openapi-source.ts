import { createInProcessBus } from "@tessera/bus";
import { createCoordinator, startAdminServer } from "@tessera/coordinator";
import { pino } from "pino";

/** Starts a coordinator (in-process bus, the memory store, no components) and its admin server, and hands `use` its live /openapi.json URL. */
export async function withOpenApiDocument<T>(use: (openapiUrl: URL) => Promise<T>): Promise<T> {
  const bus = createInProcessBus();
  const coordinator = await createCoordinator({ bus, components: [], env: {}, logger: pino({ level: "silent" }) });
  const admin = await startAdminServer(coordinator, { host: "127.0.0.1", port: 0 });
  try {
    return await use(new URL("/openapi.json", admin.url));
  } finally {
    await admin.close();
    await coordinator.close();
    await bus.close();
  }
}
