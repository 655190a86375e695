import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from "fastify";
import type { Coordinator } from "../../types.js";
import { ApiError } from "../api-error.js";
import { auditTarget } from "../audit-hooks.js";
import { ConnectionCallbackSchema, ErrorBodySchema, OAUTH_CALLBACK_PATH, OAuthCallbackQuery, ref } from "../schemas.js";
import { CALLBACK_PAGE_CSP, renderCallbackPage } from "./callback-page.js";
import { connectionsOf, toConnectionApiError } from "./connection-errors.js";
import { toConnection } from "./connections.js";

/** A browser (the user the provider sent back) gets a page; any other client JSON. */
function wantsHtml(request: FastifyRequest): boolean {
  return /\btext\/html\b/i.test(request.headers.accept ?? "");
}

/** One status, answered as JSON or as a page. */
function answers(description: string, json: unknown): Record<string, unknown> {
  return {
    description,
    content: {
      "application/json": { schema: json },
      "text/html": { schema: { type: "string", description: "A page saying the same, for the user's browser" } },
    },
  };
}

function sendPage(reply: FastifyReply, status: number, html: string): FastifyReply {
  return reply
    .code(status)
    .type("text/html; charset=utf-8")
    .header("cache-control", "no-store")
    .header("content-security-policy", CALLBACK_PAGE_CSP)
    .send(html);
}

/** Why a callback failed, in words for the user, by the error's reason. */
function failureTitle(error: ApiError): string {
  switch (error.detail.reason) {
    case "invalid_state":
      return "This connection link is not valid any more";
    case "authorization_denied":
      return "The provider did not grant access";
    case "connectors_not_configured":
      return "Connections are not configured here";
    default:
      return error.statusCode >= 500 ? "The connection could not be completed" : "The connection was refused";
  }
}

/**
 * `GET /oauth/callback`: where every provider sends the user back after consent (the `redirectUri` each
 * provider is registered with). The state names the authorization begun by `POST /api/v1/connections`, so
 * the provider and user, and is taken once by the service: a missing, unknown, expired or replayed state is
 * a 400 (`reason: invalid_state`), an `error` from the provider a 400 (`authorization_denied`). Not behind
 * the admin token (the user's browser carries none); the state is the check. Audited as `connection.finish`.
 */
export const oauthCallbackRoutes: FastifyPluginAsync<{ coordinator: Coordinator; dashboard: boolean }> = async (
  app,
  { coordinator, dashboard },
) => {
  app.get<{ Querystring: OAuthCallbackQuery }>(
    OAUTH_CALLBACK_PATH,
    {
      config: { audit: "connection.finish", open: true },
      // A HEAD (a link checker, a prefetch) must not spend the state: only GET finishes (HEAD is a 405).
      exposeHeadRoute: false,
      schema: {
        summary:
          "The OAuth redirect target of every provider: finishes the connection the state names (once), then answers a page (Accept: text/html) or JSON",
        tags: ["connections"],
        querystring: OAuthCallbackQuery,
        response: {
          200: answers("The connection is made", ref(ConnectionCallbackSchema)),
          400: answers(
            "No state, or a state unknown, expired or used already (`reason: invalid_state`); or the provider answered with an error (`authorization_denied`)",
            ref(ErrorBodySchema),
          ),
          404: answers("This coordinator has no connectors configured", ref(ErrorBodySchema)),
        },
      },
    },
    async (request, reply) => {
      const html = wantsHtml(request);
      const dashboardHref = dashboard ? "/connections" : undefined;
      try {
        const service = connectionsOf(coordinator);
        const params = new URLSearchParams();
        for (const [name, value] of Object.entries(request.query))
          if (typeof value === "string") params.set(name, value);
        if (!params.has("state"))
          throw new ApiError(
            400,
            "invalid_request",
            "the callback carries no state: open it only through the provider's redirect, after beginning a connection",
            { reason: "invalid_state" },
          );
        const credential = await service.finish(params);
        const connection = toConnection(credential);
        auditTarget(request, connection.id);
        // A connection begun by a gateway install: its account is written now, only after the callback succeeded.
        const installed = await coordinator.gateway.completeInstall(credential);
        if (!html) return installed === undefined ? { connection } : { connection, gatewayAccount: installed.id };
        const detail =
          installed === undefined
            ? `${connection.userId} is connected to ${connection.provider} (scopes: ${connection.scopes.join(" ") || "none"}).`
            : `The gateway account ${installed.id} is installed through ${connection.provider}.`;
        return sendPage(reply, 200, renderCallbackPage({ ok: true, title: "Connected", detail, dashboardHref }));
      } catch (err) {
        const error = toConnectionApiError(err);
        const provider = (err as { details?: { provider?: unknown } }).details?.provider;
        if (typeof provider === "string") auditTarget(request, provider);
        if (!html || !(error instanceof ApiError)) throw error;
        return sendPage(
          reply,
          error.statusCode,
          renderCallbackPage({ ok: false, title: failureTitle(error), detail: error.message, dashboardHref }),
        );
      }
    },
  );
};
