import { PayloadMissingError } from "@tessera/bus";
import type { FastifyPluginAsync } from "fastify";
import type { Coordinator, JobRecord, Page, SubmitInput, SubmitOptions, SubmitOutcome } from "../../types.js";
import { conflict, notFound } from "../api-error.js";
import {
  JobIdParams,
  JobPageSchema,
  JobRecordSchema,
  ListJobsQuery,
  SubmitJobBody,
  SubmitJobHeaders,
  SubmitOutcomeSchema,
  jobChangeResponse,
  ref,
  withErrors,
} from "../schemas.js";

/** The schema guarantees exactly one of the four; base64 has been checked (format "byte"). */
function toSubmitInput(input: SubmitJobBody["input"]): SubmitInput {
  if (input.base64 !== undefined) return { bytes: Buffer.from(input.base64, "base64") };
  if (input.source_locator !== undefined) return { source_locator: input.source_locator };
  if (input.text !== undefined) return { text: input.text };
  return { json: input.json };
}

export const jobRoutes: FastifyPluginAsync<{ coordinator: Coordinator }> = async (app, { coordinator }) => {
  app.post<{ Body: SubmitJobBody; Headers: SubmitJobHeaders; Reply: SubmitOutcome }>(
    "/jobs",
    {
      config: { mutating: true, nulAllowedIn: ["input"] },
      schema: {
        summary: "Submit a job (201 when created, 200 when the idempotency key matched an existing job)",
        tags: ["jobs"],
        headers: SubmitJobHeaders,
        body: SubmitJobBody,
        response: withErrors({ 201: ref(SubmitOutcomeSchema), 200: ref(SubmitOutcomeSchema) }, 404),
      },
    },
    async (request, reply) => {
      const { component, input, ...options } = request.body;
      const { traceparent } = request.headers;
      const submitOptions: SubmitOptions = traceparent === undefined ? options : { ...options, traceparent };
      const outcome = await coordinator.submit(component, toSubmitInput(input), submitOptions);
      return reply.code(outcome.created ? 201 : 200).send(outcome);
    },
  );

  app.get<{ Querystring: ListJobsQuery; Reply: Page<JobRecord> }>(
    "/jobs",
    {
      schema: {
        summary: "List jobs, filtered and paginated",
        tags: ["jobs"],
        querystring: ListJobsQuery,
        response: withErrors({ 200: ref(JobPageSchema) }, 404),
      },
    },
    (request) => coordinator.listJobs(request.query),
  );

  app.get<{ Params: JobIdParams; Reply: JobRecord }>(
    "/jobs/:jobId",
    {
      schema: {
        summary: "One job",
        tags: ["jobs"],
        params: JobIdParams,
        response: withErrors({ 200: ref(JobRecordSchema) }, 404),
      },
    },
    async (request) => {
      const job = await coordinator.getJob(request.params.jobId);
      if (job === undefined) throw notFound(`no job "${request.params.jobId}"`);
      return job;
    },
  );

  app.get<{ Params: JobIdParams }>(
    "/jobs/:jobId/result",
    {
      schema: {
        summary:
          "The job's output: its inline data (JSON or text) or the bytes its result_ref names in the payload store",
        tags: ["jobs"],
        params: JobIdParams,
        response: withErrors(
          {
            200: {
              description:
                "The output: inline data as JSON or as text, or the bytes a result_ref names as application/octet-stream",
              // The types outputBytes (results/job-output.ts) answers with.
              content: {
                "application/json": { schema: {} },
                "text/plain": { schema: { type: "string" } },
                "application/octet-stream": { schema: { type: "string", format: "binary" } },
              },
            },
          },
          404,
        ),
      },
    },
    async (request, reply) => {
      const { jobId } = request.params;
      let output;
      try {
        output = await coordinator.jobOutput(jobId);
      } catch (err) {
        // The payload store expires objects (TTL); an old result_ref then names nothing.
        if (err instanceof PayloadMissingError)
          throw notFound(`the output of job "${jobId}" is gone from the payload store: ${err.message}`);
        throw err;
      }
      if (output === undefined) throw notFound(`job "${jobId}" does not exist or has no output`);
      return reply
        .type(output.contentType)
        .header("content-disposition", `inline; filename="${jobId}-result"`)
        .send(Buffer.from(output.bytes));
    },
  );

  app.post<{ Params: JobIdParams; Reply: { job: JobRecord } }>(
    "/jobs/:jobId/cancel",
    {
      config: { mutating: true, audit: "job.cancel" },
      schema: {
        summary: "Cancel a pending or queued job (409 `already_finished` once it is completed, failed or cancelled)",
        tags: ["jobs"],
        params: JobIdParams,
        response: withErrors({ 200: jobChangeResponse() }, 404, 409),
      },
    },
    async (request) => {
      const { jobId } = request.params;
      const outcome = await coordinator.cancel(jobId);
      if (outcome.cancelled) return { job: outcome.job };
      if (outcome.reason === "not_found") throw notFound(`no job "${jobId}"`);
      throw conflict(
        `job "${jobId}" is already ${outcome.job?.state ?? "finished"}; only pending or queued jobs can be cancelled`,
        outcome.reason,
      );
    },
  );
};
