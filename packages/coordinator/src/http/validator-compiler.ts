import AjvCompiler from "@fastify/ajv-compiler";
import type { FastifySchemaCompiler } from "fastify";

type AjvOptions = Exclude<Parameters<AjvCompiler.BuildCompilerFromPool>[1], { mode: "JTD" } | undefined>;

/**
 * Fastify's Ajv, configured for an API that explains its refusals:
 *
 * - unknown fields are reported (Fastify's default silently removes them, so a typo such as `compnent`
 *   would be ignored rather than named);
 * - every error is collected with the offending value (`allErrors`, `verbose`), so one response lists
 *   every bad field; the body limit bounds what that costs;
 * - bodies are JSON and keep their types ("5" is not an integer there), while query strings and path
 *   parameters are text on the wire and are coerced (`limit=20` → 20).
 */
export function validatorFactory(): AjvCompiler.BuildCompilerFromPool {
  const pool = AjvCompiler();
  return (externalSchemas, serverOptions) => {
    // Fastify passes its `ajv` server option, which this server leaves unset (so never JTD mode).
    const options = serverOptions as AjvOptions | undefined;
    const customOptions = {
      ...options?.customOptions,
      removeAdditional: false,
      allErrors: true,
      verbose: true,
    } as const;
    // The pool declares its compilers as (schema, meta); Fastify calls them with the route definition.
    const forBody = pool(externalSchemas, {
      ...options,
      customOptions: { ...customOptions, coerceTypes: false },
    }) as unknown as FastifySchemaCompiler<unknown>;
    const forText = pool(externalSchemas, {
      ...options,
      customOptions: { ...customOptions, coerceTypes: true },
    }) as unknown as FastifySchemaCompiler<unknown>;
    const compile: FastifySchemaCompiler<unknown> = (route) => (route.httpPart === "body" ? forBody : forText)(route);
    return compile as unknown as ReturnType<AjvCompiler.BuildCompilerFromPool>;
  };
}
