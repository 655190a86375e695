import AjvCompiler from "@fastify/ajv-compiler";
import type { FastifySchemaCompiler } from "fastify";

type AjvOptions = Exclude<Parameters<AjvCompiler.BuildCompilerFromPool>[1], { mode: "JTD" } | undefined>;

/**
 * Standard (RFC 4648 §4) padded base64, checked in one pass. The regular expression that did this before
 * backtracked per 4-character group and overflowed the stack past about 4.2M characters (a 3 MB upload).
 */
export function isPaddedBase64(text: string): boolean {
  if (text.length % 4 !== 0) return false;
  const padding = text.endsWith("==") ? 2 : text.endsWith("=") ? 1 : 0;
  for (let i = text.length - padding - 1; i >= 0; i--) {
    const c = text.charCodeAt(i);
    const inAlphabet =
      (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x2b || c === 0x2f;
    if (!inAlphabet) return false;
  }
  return true;
}

/**
 * Fastify's Ajv, configured for an API that explains its refusals:
 *
 * - unknown fields are reported (Fastify's default silently removes them, so a typo such as `compnent`
 *   would be ignored rather than named);
 * - every error is collected with the offending value (`allErrors`, `verbose`), so one response lists
 *   every bad field; the body limit bounds what that costs;
 * - bodies are JSON and keep their types ("5" is not an integer there), while query strings and path
 *   parameters are text on the wire and are coerced (`limit=20` → 20);
 * - `format: "byte"` (OpenAPI's name for base64) is checked by isPaddedBase64, in linear time, instead of
 *   ajv-formats' regular expression.
 */
export function validatorFactory(): AjvCompiler.BuildCompilerFromPool {
  const pool = AjvCompiler();
  return (externalSchemas, serverOptions) => {
    // Fastify passes its `ajv` server option, which this server leaves unset (so never JTD mode).
    const options = serverOptions as AjvOptions | undefined;
    const onCreate = (ajv: Parameters<NonNullable<AjvOptions["onCreate"]>>[0]): void => {
      options?.onCreate?.(ajv);
      ajv.addFormat("byte", { type: "string", validate: isPaddedBase64 });
    };
    const customOptions = {
      ...options?.customOptions,
      removeAdditional: false,
      allErrors: true,
      verbose: true,
    } as const;
    // The pool declares its compilers as (schema, meta); Fastify calls them with the route definition.
    const forBody = pool(externalSchemas, {
      ...options,
      onCreate,
      customOptions: { ...customOptions, coerceTypes: false },
    }) as unknown as FastifySchemaCompiler<unknown>;
    const forText = pool(externalSchemas, {
      ...options,
      onCreate,
      customOptions: { ...customOptions, coerceTypes: true },
    }) as unknown as FastifySchemaCompiler<unknown>;
    const compile: FastifySchemaCompiler<unknown> = (route) => (route.httpPart === "body" ? forBody : forText)(route);
    return compile as unknown as ReturnType<AjvCompiler.BuildCompilerFromPool>;
  };
}
