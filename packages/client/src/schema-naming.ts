import { Type, type Static, type TSchema } from "@sinclair/typebox";

/** A schema with an `$id`: registered once with the server and named in the OpenAPI document. */
export type Named = TSchema & { $id: string };

export function named<T extends TSchema>($id: string, schema: T): T & { $id: string } {
  return Object.assign(schema, { $id });
}

/** A reference to a named schema (`{$ref: "JobRecord"}`) whose static type is the named schema's. */
export function ref<T extends Named>(schema: T) {
  return Type.Unsafe<Static<T>>(Type.Ref(schema.$id));
}

export function nullable<T extends TSchema>(schema: T, description?: string) {
  return Type.Union([schema, Type.Null()], description === undefined ? {} : { description });
}

export const timestamp = (description: string) => Type.String({ format: "date-time", description });
