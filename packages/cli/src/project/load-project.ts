import { existsSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import type { ComponentRegistration } from "@tessera/coordinator";
import { CliError } from "../cli-error.js";
import { ExitCode } from "../exit-codes.js";
import {
  formatManifestProblem,
  loadComponentManifests,
  manifestExitCode,
} from "../manifests/load-component-manifests.js";
import type { ProjectDefinition, ProjectSample } from "./define-project.js";

export const PROJECT_FILE = "tessera.project.ts";

/** A project ready to run: its definition, its components' registrations and module paths, its samples. */
export interface LoadedProject {
  dir: string;
  file: string;
  definition: ProjectDefinition;
  components: (ComponentRegistration & { modulePath: string })[];
  samples: ProjectSample[];
}

/**
 * Finds `tessera.project.ts` (given a directory or the file itself), imports it, and checks every
 * component's manifest. Anything wrong is a CliError naming the file and what to fix.
 */
export async function loadProject(target: string): Promise<LoadedProject> {
  const given = resolve(target);
  if (!existsSync(given)) throw new CliError(`project not found: ${given} does not exist`, ExitCode.Usage);
  const file = statSync(given).isDirectory() ? join(given, PROJECT_FILE) : given;
  if (!existsSync(file))
    throw new CliError(`no ${PROJECT_FILE} in ${given}`, ExitCode.Usage, [
      `a project directory holds a ${PROJECT_FILE} whose default export is defineProject({...}) from @tessera/cli`,
    ]);
  const dir = dirname(file);
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  } catch (err) {
    throw new CliError(`cannot load ${file}: ${(err as Error).message}`, ExitCode.Failed);
  }
  const definition = checkDefinition(mod["default"], file);
  const { manifests, problems } = await loadComponentManifests(
    definition.components.map((c) => resolve(dir, c.manifest)),
  );
  if (problems.length > 0)
    throw new CliError(
      `${file}: invalid component manifests`,
      manifestExitCode(problems),
      problems.map(formatManifestProblem),
    );
  const components = definition.components.map((c, i) => {
    const manifest = manifests.find((m) => m.file === resolve(dir, c.manifest));
    if (manifest === undefined)
      throw new CliError(`${file}: components[${i}].manifest ${c.manifest} holds no Component`, ExitCode.Failed);
    const modulePath = resolve(dir, c.module);
    if (!existsSync(modulePath))
      throw new CliError(`${file}: components[${i}].module: ${modulePath} does not exist`, ExitCode.Failed);
    return {
      name: manifest.name,
      spec: manifest.spec,
      modulePath,
      ...(c.limits !== undefined ? { limits: c.limits } : {}),
    };
  });
  const samples = typeof definition.samples === "function" ? await definition.samples() : (definition.samples ?? []);
  const names = new Set(components.map((c) => c.name));
  const labels = new Set<string>();
  samples.forEach((s, i) => {
    if (!names.has(s.component))
      throw new CliError(
        `${file}: samples[${i}].component: no component named "${s.component}" (known: ${[...names].join(", ")})`,
        ExitCode.Failed,
      );
    if (typeof s.label !== "string" || s.label === "" || labels.has(s.label))
      throw new CliError(
        `${file}: samples[${i}].label: expected a label no other sample has, got ${JSON.stringify(s.label)}`,
        ExitCode.Failed,
      );
    if (s.expect !== undefined && s.expect !== "completed" && s.expect !== "failed")
      throw new CliError(
        `${file}: samples[${i}].expect: expected "completed" or "failed", got ${JSON.stringify(s.expect)}`,
        ExitCode.Failed,
      );
    labels.add(s.label);
  });
  return { dir, file, definition, components, samples };
}

function checkDefinition(value: unknown, file: string): ProjectDefinition {
  const fail = (what: string): never => {
    throw new CliError(`${file}: ${what}`, ExitCode.Failed, [
      "the default export must be defineProject({ name, components: [{ manifest, module }] })",
    ]);
  };
  if (typeof value !== "object" || value === null) return fail("has no default export");
  const def = value as Partial<ProjectDefinition>;
  if (typeof def.name !== "string" || def.name.length === 0) fail("name: expected a non-empty string");
  if (!Array.isArray(def.components) || def.components.length === 0)
    fail("components: expected at least one { manifest, module }");
  def.components?.forEach((c, i) => {
    if (typeof c?.manifest !== "string") fail(`components[${i}].manifest: expected the path of a Component manifest`);
    if (typeof c?.module !== "string") fail(`components[${i}].module: expected the path of the component's module`);
  });
  return def as ProjectDefinition;
}
