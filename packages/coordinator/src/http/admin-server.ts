import type { AddressInfo } from "node:net";
import { enforceGuardRails } from "@tessera/contract";
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from "fastify";
import {
  ADMIN_ALLOWED_HOSTS,
  ADMIN_MAX_EVENT_STREAMS,
  DEFAULT_MAX_EVENT_STREAMS,
  ENVIRONMENT,
} from "../settings/setting-definitions.js";
import type { Coordinator } from "../types.js";
import { changesWithoutToken, installAccessGuard, isLoopbackHost, type AccessPolicy } from "./access-guard.js";
import { installAuditLog, type RefusalLimits } from "./audit-hooks.js";
import { serveDashboard } from "./dashboard-assets.js";
import { frameworkErrorHandler, installErrorHandling, MAX_PARAM_LENGTH } from "./error-handler.js";
import { installHostCheck } from "./host-check.js";
import { acceptEmptyJsonBodies } from "./json-body-parser.js";
import { installMethodNotAllowed } from "./method-not-allowed.js";
import { requireMutatingFlag } from "./mutating-routes.js";
import { registerOpenApi } from "./openapi.js";
import { installRequestTextChecks } from "./request-text.js";
import { accessRoutes } from "./routes/access.js";
import { componentRoutes } from "./routes/components.js";
import { connectionRoutes } from "./routes/connections.js";
import { counterRoutes } from "./routes/counters.js";
import { dlqRoutes } from "./routes/dlq.js";
import { eventRoutes } from "./routes/events.js";
import { gatewayRoutes } from "./routes/gateway.js";
import { healthRoutes } from "./routes/health.js";
import { jobRoutes } from "./routes/jobs.js";
import { metricsRoutes } from "./routes/metrics.js";
import { oauthCallbackRoutes } from "./routes/oauth-callback.js";
import { settingsRoutes } from "./routes/settings.js";
import { ADMIN_BODY_LIMIT_BYTES, NAMED_SCHEMAS } from "./schemas.js";
import { installTracing } from "./trace-hooks.js";
import { trackUnusedSockets } from "./unused-sockets.js";
import { validatorFactory } from "./validator-compiler.js";

// Defined with the API's schemas (@tessera/client), so that clients can refuse what would not fit before sending it.
export { ADMIN_BODY_LIMIT_BYTES };

export interface AdminServerOptions {
  /**
   * Default 127.0.0.1. Anywhere else, changes (cancel, redrive, submit, settings) are refused unless an
   * admin token is configured; reads stay open.
   */
  host?: string;
  /** 0 (the default) binds a free port. */
  port?: number;
  /** The coordinator's pino logger (server errors are logged to it), or false for none (the default). */
  logger?: FastifyBaseLogger | false;
  /**
   * The token changes require (`Authorization: Bearer <token>`). Default: the coordinator's `admin.token`
   * setting (TESSERA_ADMIN_TOKEN).
   */
  adminToken?: string;
  /** Directory of the built dashboard (`dashboardAssetsDir()` from @tessera/dashboard), served at `/`. */
  dashboard?: string;
  /**
   * Host names requests may name in their Host header besides localhost and IP addresses; others are
   * refused with 403 (DNS rebinding). Default: the coordinator's `admin.allowedHosts` setting
   * (TESSERA_ADMIN_ALLOWED_HOSTS); when none are configured, any name is taken if `host` is beyond loopback.
   */
  allowedHosts?: readonly string[];
  /**
   * Event streams (`GET /api/v1/events`) kept open at once; one more is answered 503. Default: the
   * coordinator's `admin.maxEventStreams` setting (256).
   */
  maxEventStreams?: number;
}

export interface AdminServer {
  /** e.g. `http://127.0.0.1:41234`, no trailing slash. */
  readonly url: string;
  readonly port: number;
  readonly app: FastifyInstance;
  /** Ends open event streams, then stops listening once in-flight requests finish. */
  close(): Promise<void>;
}

interface AppOptions {
  logger: FastifyBaseLogger | false;
  policy: AccessPolicy;
  dashboard: string | undefined;
  /** Default: the coordinator's `admin.maxEventStreams` setting. */
  maxEventStreams?: number | undefined;
  /** How refused changes are written to the audit log (audit-hooks.ts); tests shorten the window. */
  refusalLimits?: RefusalLimits;
}

/** The admin API as a Fastify app, not listening yet (tests inject requests into it). */
export async function buildAdminApp(
  coordinator: Coordinator,
  { logger, policy, dashboard, maxEventStreams, refusalLimits }: AppOptions,
): Promise<FastifyInstance> {
  const scrub = (text: string): string => coordinator.settings.scrub(text);
  const app = Fastify({
    ...(logger === false ? { logger: false } : { loggerInstance: logger }),
    // A line per dashboard poll would drown the coordinator's own log; failures are logged by the error handler.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: ADMIN_BODY_LIMIT_BYTES,
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    frameworkErrors: frameworkErrorHandler(ADMIN_BODY_LIMIT_BYTES, scrub),
    schemaController: { compilersFactory: { buildValidator: validatorFactory() } },
  });
  // First: every request gets its span, refused ones too.
  installTracing(app);
  requireMutatingFlag(app);
  acceptEmptyJsonBodies(app);
  installErrorHandling(app, ADMIN_BODY_LIMIT_BYTES, scrub);
  installHostCheck(app, policy);
  // After the Host check (a rebinding page learns nothing, not even which methods a path takes).
  installMethodNotAllowed(app);
  installAccessGuard(app, policy);
  installRequestTextChecks(app);
  installAuditLog(app, coordinator, refusalLimits);
  for (const schema of NAMED_SCHEMAS) app.addSchema(schema);
  // Before the routes: the OpenAPI plugin collects the routes registered after it.
  await registerOpenApi(app);
  await app.register(healthRoutes, { coordinator });
  await app.register(metricsRoutes, { coordinator });
  const maxStreams = maxEventStreams ?? coordinator.settings.read(ADMIN_MAX_EVENT_STREAMS) ?? DEFAULT_MAX_EVENT_STREAMS;
  for (const routes of [componentRoutes, jobRoutes]) await app.register(routes, { prefix: "/api/v1", coordinator });
  await app.register(eventRoutes, { prefix: "/api/v1", coordinator, maxStreams });
  for (const routes of [dlqRoutes, settingsRoutes, counterRoutes])
    await app.register(routes, { prefix: "/api/v1", coordinator });
  await app.register(accessRoutes, { prefix: "/api/v1", coordinator, policy });
  await app.register(connectionRoutes, { prefix: "/api/v1", coordinator });
  await app.register(gatewayRoutes, { prefix: "/api/v1", coordinator });
  await app.register(oauthCallbackRoutes, { coordinator, dashboard: dashboard !== undefined });
  if (dashboard !== undefined) await serveDashboard(app, dashboard);
  return app;
}

/** Serves the admin HTTP API (docs/admin-api.md) for a coordinator. */
export async function startAdminServer(coordinator: Coordinator, opts: AdminServerOptions = {}): Promise<AdminServer> {
  const host = opts.host ?? "127.0.0.1";
  // Checked when the coordinator resolved its settings (setting-definitions.ts).
  const allowedHosts = opts.allowedHosts ?? coordinator.settings.read(ADMIN_ALLOWED_HOSTS);
  const policy: AccessPolicy = {
    host,
    token: opts.adminToken ?? coordinator.settings.secret("admin.token"),
    allowedHosts: allowedHosts?.map((name) => name.toLowerCase().replace(/\.$/, "")),
  };
  // Refused before anything listens; the only rule here holds by construction (access-guard.ts), and is
  // checked so that a change to the access rules cannot open a production API unnoticed.
  enforceGuardRails(
    coordinator.settings.read(ENVIRONMENT),
    { admin: { host, loopback: isLoopbackHost(host), changesWithoutToken: changesWithoutToken(policy) } },
    (finding) => (opts.logger === false ? undefined : opts.logger)?.warn({ rule: finding.rule }, finding.message),
  );
  const app = await buildAdminApp(coordinator, {
    logger: opts.logger ?? false,
    policy,
    dashboard: opts.dashboard,
    maxEventStreams: opts.maxEventStreams,
  });
  const unusedSockets = trackUnusedSockets(app.server);
  try {
    await app.listen({ host, port: opts.port ?? 0 });
  } catch (err) {
    await app.close();
    throw err;
  }
  const { port } = app.server.address() as AddressInfo;
  const urlHost = host.includes(":") ? `[${host}]` : host;
  return {
    url: `http://${urlHost}:${port}`,
    port,
    app,
    async close() {
      const closed = app.close();
      unusedSockets.destroyAll();
      await closed;
    },
  };
}
