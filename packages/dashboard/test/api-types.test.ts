import { readFile } from "node:fs/promises";
import { expect, it } from "vitest";
import { API_TYPES_FILE, generateApiTypes } from "../src/api-types.js";
import { withOpenApiDocument } from "./support/openapi-source.js";

it("the committed admin API types are what the coordinator's live /openapi.json generates (the dashboard cannot drift from the API)", async () => {
  const generated = await withOpenApiDocument(generateApiTypes);
  const committed = await readFile(API_TYPES_FILE, "utf8");
  // On failure: `npm run generate:api -w @tessera/dashboard`, then fix what no longer type-checks.
  expect(committed, "ui/api/admin-api.gen.ts is stale: run npm run generate:api -w @tessera/dashboard").toBe(generated);
});
