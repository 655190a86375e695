/**
 * The `tessera` command and the project file it runs.
 *
 * ```ts
 * // tessera.project.ts
 * import { defineProject } from "@tessera/cli";
 * export default defineProject({
 *   name: "documents",
 *   components: [{ manifest: "components/extract.yaml", module: "src/extract.ts" }],
 * });
 * ```
 */
export {
  defineProject,
  type ProjectDefinition,
  type ProjectComponent,
  type ProjectSample,
} from "./project/define-project.js";
