import type { StoredCredential } from "@tessera/connectors";
import type { FastifyPluginAsync } from "fastify";
import type { Coordinator } from "../../types.js";
import { notFound } from "../api-error.js";
import {
  BeginConnectionBody,
  ConnectionBeginSchema,
  ConnectionListSchema,
  ConnectionParams,
  ConnectionSchema,
  DisconnectOutcomeSchema,
  ListConnectionsQuery,
  connectionId,
  ref,
  withErrors,
  type Connection,
  type ConnectionBegin,
  type ConnectionList,
  type DisconnectOutcome,
} from "../schemas.js";
import { connectionCall, connectionsOf } from "./connection-errors.js";

/** A connection as the API shows it: the service's view (never a token) under its one id. */
export function toConnection(credential: StoredCredential): Connection {
  return { id: connectionId(credential.provider, credential.userId), ...credential };
}

/** Users' connections to providers (docs/connectors.md): list, one, begin, disconnect. The callback is in oauth-callback.ts. */
export const connectionRoutes: FastifyPluginAsync<{ coordinator: Coordinator }> = async (app, { coordinator }) => {
  app.get<{ Querystring: ListConnectionsQuery; Reply: ConnectionList }>(
    "/connections",
    {
      schema: {
        summary: "Connections to providers (never a token) and the providers configured",
        tags: ["connections"],
        querystring: ListConnectionsQuery,
        response: { 200: ref(ConnectionListSchema) },
      },
    },
    async (request) => {
      const service = coordinator.connections;
      if (service === undefined) return { configured: false, providers: [], items: [] };
      const items = await connectionCall(() => service.list(request.query));
      return { configured: true, providers: service.providers(), items: items.map(toConnection) };
    },
  );

  app.get<{ Params: ConnectionParams; Reply: Connection }>(
    "/connections/:provider/:userId",
    {
      schema: {
        summary: "One connection (404 when the user has none with the provider)",
        tags: ["connections"],
        params: ConnectionParams,
        response: withErrors({ 200: ref(ConnectionSchema) }, 404),
      },
    },
    async (request) => {
      const { provider, userId } = request.params;
      const service = connectionsOf(coordinator);
      const found = await connectionCall(() => service.get(provider, userId));
      if (found === undefined) throw notFound(`${userId} has no connection to ${provider}`);
      return toConnection(found);
    },
  );

  app.post<{ Body: BeginConnectionBody; Reply: ConnectionBegin }>(
    "/connections",
    {
      config: { mutating: true, audit: "connection.begin" },
      schema: {
        summary:
          "Begin connecting a user to a provider: answers the provider's authorization URL to send the user to; the provider then redirects to GET /oauth/callback",
        tags: ["connections"],
        body: BeginConnectionBody,
        response: withErrors({ 200: ref(ConnectionBeginSchema) }, 404),
      },
    },
    async (request) => {
      const { provider, userId } = request.body;
      const service = connectionsOf(coordinator);
      const { redirectUrl } = await connectionCall(() => service.begin(provider, userId));
      return { provider, userId, redirectUrl };
    },
  );

  app.delete<{ Params: ConnectionParams; Reply: DisconnectOutcome }>(
    "/connections/:provider/:userId",
    {
      config: { mutating: true, audit: "connection.disconnect" },
      schema: {
        summary:
          "Disconnect: revoke the tokens at the provider (when it has a revocation) and wipe them here, even if the provider's revocation failed",
        tags: ["connections"],
        params: ConnectionParams,
        response: withErrors({ 200: ref(DisconnectOutcomeSchema) }, 404),
      },
    },
    async (request) => {
      const { provider, userId } = request.params;
      const service = connectionsOf(coordinator);
      const outcome = await connectionCall(() => service.disconnect(provider, userId));
      if (!outcome.existed) throw notFound(`${userId} has no connection to ${provider}`);
      return {
        provider,
        userId,
        providerRevoked: outcome.providerRevoked,
        providerError: outcome.providerError ?? null,
      };
    },
  );
};
