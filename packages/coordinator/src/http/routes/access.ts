import type { FastifyPluginAsync } from "fastify";
import type { AuditEntry, Coordinator, Page } from "../../types.js";
import { decideAccess, isLoopbackHost, type AccessPolicy } from "../access-guard.js";
import { AccessInfoSchema, AuditPageSchema, ListAuditQuery, ref, withErrors } from "../schemas.js";

interface AccessInfo {
  mode: "open" | "token" | "read_only";
  canChange: boolean;
  tokenAccepted: boolean;
  message: string;
}

export const accessRoutes: FastifyPluginAsync<{ coordinator: Coordinator; policy: AccessPolicy }> = async (app, { coordinator, policy }) => {
  app.get<{ Reply: AccessInfo }>(
    "/access",
    {
      schema: {
        summary: "What the caller may do: whether changes (cancel, redrive, submit, settings) are allowed, and why",
        tags: ["access"],
        response: withErrors({ 200: ref(AccessInfoSchema) }),
      },
    },
    (request) => {
      const decision = decideAccess(policy, request);
      const mode = policy.token !== undefined ? "token" : isLoopbackHost(policy.host) ? "open" : "read_only";
      const message = decision.allowed
        ? decision.by === "token"
          ? "changes allowed: the admin token was accepted"
          : `changes allowed: the admin API listens on loopback (${policy.host}) and no admin token is configured`
        : decision.message;
      return { mode, canChange: decision.allowed, tokenAccepted: decision.allowed && decision.by === "token", message };
    },
  );

  app.get<{ Querystring: ListAuditQuery; Reply: Page<AuditEntry> }>(
    "/audit",
    {
      schema: {
        summary: "Changes requested through the admin API (allowed or refused), newest first",
        tags: ["access"],
        querystring: ListAuditQuery,
        response: withErrors({ 200: ref(AuditPageSchema) }, 400),
      },
    },
    (request) => coordinator.audit.list(request.query),
  );
};
