// Regenerates ui/api/admin-api.gen.ts from the OpenAPI document of a real admin server (in memory,
// no components), so the dashboard's types follow the API: `npm run generate:api -w @tessera/dashboard`.
import { writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { API_TYPES_FILE, generateApiTypes } from "../src/api-types.js";
import { withOpenApiDocument } from "../test/support/openapi-source.js";

const source = await withOpenApiDocument(generateApiTypes);
await writeFile(API_TYPES_FILE, source);
console.log(`wrote ${fileURLToPath(API_TYPES_FILE)}`);
