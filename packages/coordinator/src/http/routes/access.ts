import type { FastifyPluginAsync } from "fastify";
import type { AuditEntry, Coordinator, Page } from "../../types.js";
import { describeAccess, type AccessPolicy } from "../access-guard.js";
import { AccessInfoSchema, AuditPageSchema, ListAuditQuery, ref } from "../schemas.js";

export const accessRoutes: FastifyPluginAsync<{ coordinator: Coordinator; policy: AccessPolicy }> = async (
  app,
  { coordinator, policy },
) => {
  app.get<{ Reply: ReturnType<typeof describeAccess> }>(
    "/access",
    {
      schema: {
        summary: "What the caller may do: whether changes (cancel, redrive, submit, settings) are allowed, and why",
        tags: ["access"],
        response: { 200: ref(AccessInfoSchema) },
      },
    },
    (request) => describeAccess(policy, request),
  );

  app.get<{ Querystring: ListAuditQuery; Reply: Page<AuditEntry> }>(
    "/audit",
    {
      schema: {
        summary: "Changes requested through the admin API (allowed or refused), newest first",
        tags: ["access"],
        querystring: ListAuditQuery,
        response: { 200: ref(AuditPageSchema) },
      },
    },
    (request) => coordinator.audit.list(request.query),
  );
};
