import type { FastifyPluginAsync } from "fastify";
import type { Coordinator, DeadLetterRecord, JobRecord, Page } from "../../types.js";
import { conflict, notFound } from "../api-error.js";
import { auditJobIds } from "../audit-hooks.js";
import {
  DeadLetterPageSchema,
  JobIdParams,
  ListDeadLettersQuery,
  RedriveAllBody,
  jobChangeResponse,
  redriveAllResponse,
  ref,
  withErrors,
} from "../schemas.js";

export const dlqRoutes: FastifyPluginAsync<{ coordinator: Coordinator }> = async (app, { coordinator }) => {
  app.get<{ Querystring: ListDeadLettersQuery; Reply: Page<DeadLetterRecord> }>(
    "/dlq",
    {
      schema: {
        summary: "List dead letters, paginated",
        tags: ["dead letters"],
        querystring: ListDeadLettersQuery,
        response: withErrors({ 200: ref(DeadLetterPageSchema) }, 404),
      },
    },
    (request) => coordinator.listDeadLetters(request.query),
  );

  app.post<{ Params: JobIdParams; Reply: { job: JobRecord } }>(
    "/dlq/:jobId/redrive",
    {
      config: { mutating: true, audit: "dlq.redrive" },
      schema: {
        summary: "Send a dead-lettered job back to pending (409 `not_failed` when it is not dead-lettered)",
        tags: ["dead letters"],
        params: JobIdParams,
        response: withErrors({ 200: jobChangeResponse() }, 404, 409),
      },
    },
    async (request) => {
      const { jobId } = request.params;
      const outcome = await coordinator.redrive(jobId);
      if (outcome.redriven) return { job: outcome.job };
      if (outcome.reason === "not_found") throw notFound(`no job "${jobId}"`);
      throw conflict(
        `job "${jobId}" is ${outcome.job?.state ?? "not failed"}; only dead-lettered failed jobs can be redriven`,
        outcome.reason,
      );
    },
  );

  app.post<{ Body: RedriveAllBody; Reply: { jobIds: string[] } }>(
    "/dlq/redrive",
    {
      config: { mutating: true, audit: "dlq.redrive_all" },
      schema: {
        summary: "Redrive every dead-lettered, not yet redriven job of a component",
        tags: ["dead letters"],
        body: RedriveAllBody,
        response: withErrors({ 200: redriveAllResponse() }, 404),
      },
    },
    async (request) => {
      const jobIds = await coordinator.redriveAll(request.body.component);
      auditJobIds(request, jobIds);
      return { jobIds };
    },
  );
};
