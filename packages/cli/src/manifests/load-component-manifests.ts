import { readFile } from "node:fs/promises";
import { componentNameProblem, validateComponentSpec, type ComponentSpec } from "@tessera/contract";
import { LineCounter, parseAllDocuments } from "yaml";
import { lineOf } from "./yaml-line.js";

export const MANIFEST_API_VERSION = "tessera.dev/v1alpha1";
export const MANIFEST_KIND = "Component";
const TOP_LEVEL_FIELDS = ["apiVersion", "kind", "metadata", "spec"];

/** A Component manifest that passed every check. */
export interface ComponentManifest {
  file: string;
  /** 0-based position of the document in its file's YAML stream (`---` separated). */
  index: number;
  /** 1-based line where the document starts. */
  line: number;
  name: string;
  /** Validated, with the spec-level defaults (`inputMode`, `egress`) filled in. */
  spec: ComponentSpec;
}

/**
 * One thing wrong with a manifest file.
 * - `file`: the file cannot be read (`path` is ""); a usage error for a command that was given the name.
 * - `syntax`: the YAML/JSON does not parse (`path` is "(yaml)").
 * - `content`: it parses but is not a valid Component manifest (`path` like `spec.allowlist.cidrs[0]`).
 */
export interface ManifestProblem {
  kind: "file" | "syntax" | "content";
  file: string;
  /** 0-based document index, as `ComponentManifest.index`. */
  document: number;
  path: string;
  expected: string;
  received: string;
  /** 1-based line of the field (or of the mapping that lacks it), when known. */
  line?: number;
}

export interface ManifestLoadResult {
  manifests: ComponentManifest[];
  problems: ManifestProblem[];
}

/** `file:line: path: expected X, got Y` — the shape editors and CI annotators recognise. */
export function formatManifestProblem(problem: ManifestProblem): string {
  const where = problem.line !== undefined ? `${problem.file}:${problem.line}` : problem.file;
  const field = problem.path === "" ? "" : `${problem.path}: `;
  return `${where}: ${field}expected ${problem.expected}, got ${problem.received}`;
}

/** The same words the contract's validators use for what arrived, so all problems read alike. */
function describe(value: unknown): string {
  if (value === undefined) return "nothing (field missing)";
  if (value === null) return "null";
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (typeof value === "string")
    return `string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
  if (typeof value === "object") return "an object";
  return `${typeof value} ${String(value)}`;
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

type Issue = Pick<ManifestProblem, "path" | "expected" | "received">;

/** Checks one parsed document; returns its name and spec, or the issues (paths from the document root). */
function checkManifest(
  value: unknown,
): { ok: true; name: string; spec: ComponentSpec } | { ok: false; issues: Issue[] } {
  if (!isRecord(value)) {
    return {
      ok: false,
      issues: [
        {
          path: "(root)",
          expected: `a Component manifest (a mapping with ${TOP_LEVEL_FIELDS.join(", ")})`,
          received: describe(value),
        },
      ],
    };
  }
  const issues: Issue[] = [];
  for (const key of Object.keys(value)) {
    if (!TOP_LEVEL_FIELDS.includes(key))
      issues.push({
        path: key,
        expected: `no such field (known fields: ${TOP_LEVEL_FIELDS.join(", ")})`,
        received: describe(value[key]),
      });
  }
  if (value["apiVersion"] !== MANIFEST_API_VERSION)
    issues.push({
      path: "apiVersion",
      expected: JSON.stringify(MANIFEST_API_VERSION),
      received: describe(value["apiVersion"]),
    });
  if (value["kind"] !== MANIFEST_KIND)
    issues.push({ path: "kind", expected: JSON.stringify(MANIFEST_KIND), received: describe(value["kind"]) });
  const metadata = value["metadata"];
  const name = isRecord(metadata) ? metadata["name"] : undefined;
  if (!isRecord(metadata)) {
    issues.push({ path: "metadata", expected: "a mapping with name", received: describe(metadata) });
  } else {
    const problem = componentNameProblem(name);
    if (problem !== undefined)
      issues.push({
        path: "metadata.name",
        expected: problem.replace(/^expected /, "").replace(/, got \d+$/, ""),
        received: describe(name),
      });
  }
  const spec = value["spec"];
  let validSpec: ComponentSpec | undefined;
  if (!isRecord(spec)) {
    issues.push({
      path: "spec",
      expected: "a mapping (the Component spec, with at least image)",
      received: describe(spec),
    });
  } else {
    const checked = validateComponentSpec(spec);
    if (checked.ok) validSpec = checked.value;
    else
      issues.push(
        ...checked.error.issues.map((i) => ({ ...i, path: i.path === "(root)" ? "spec" : `spec.${i.path}` })),
      );
  }
  if (issues.length > 0 || validSpec === undefined) return { ok: false, issues };
  return { ok: true, name: name as string, spec: validSpec };
}

/** The parser's message without its trailing " at line N, column M:" and code excerpt (we print the line ourselves). */
function syntaxMessage(message: string): string {
  return (message.split("\n")[0] ?? message).replace(/ at line \d+, column \d+:?$/, "");
}

async function loadFile(file: string, result: ManifestLoadResult, seen: Map<string, string>): Promise<void> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const received = code === "ENOENT" ? "no such file" : code === "EISDIR" ? "a directory" : (err as Error).message;
    result.problems.push({
      kind: "file",
      file,
      document: 0,
      path: "",
      expected: "a readable YAML or JSON file",
      received,
    });
    return;
  }
  const lines = new LineCounter();
  // YAML 1.2 is a superset of JSON, so one parser covers both and gives line numbers for both.
  const docs = parseAllDocuments(text, { lineCounter: lines, prettyErrors: false });
  // `---` with nothing after it (a trailing separator, a comment-only document) is not a manifest.
  const isEmpty = (doc: (typeof docs)[number]): boolean =>
    doc.errors.length === 0 && (doc.contents === null || doc.toJS() === null);
  if (docs.every(isEmpty)) {
    result.problems.push({
      kind: "content",
      file,
      document: 0,
      path: "",
      expected: "at least one Component document",
      received: "an empty file",
      line: 1,
    });
    return;
  }
  docs.forEach((doc, index) => {
    if (doc.errors.length > 0) {
      for (const error of doc.errors) {
        result.problems.push({
          kind: "syntax",
          file,
          document: index,
          path: "(yaml)",
          expected: "valid YAML or JSON",
          received: `a syntax error: ${syntaxMessage(error.message)}`,
          line: lines.linePos(error.pos[0]).line,
        });
      }
      return;
    }
    if (isEmpty(doc)) return;
    const checked = checkManifest(doc.toJS());
    if (!checked.ok) {
      for (const issue of checked.issues)
        result.problems.push({
          kind: "content",
          file,
          document: index,
          ...issue,
          line: lineOf(doc, lines, issue.path) ?? 1,
        });
      return;
    }
    const line = lineOf(doc, lines, "") ?? 1;
    const earlier = seen.get(checked.name);
    if (earlier !== undefined) {
      result.problems.push({
        kind: "content",
        file,
        document: index,
        path: "metadata.name",
        expected: `a name no other manifest uses (already defined at ${earlier})`,
        received: describe(checked.name),
        line: lineOf(doc, lines, "metadata.name") ?? line,
      });
      return;
    }
    seen.set(checked.name, `${file}:${line}`);
    result.manifests.push({ file, index, line, name: checked.name, spec: checked.spec });
  });
}

/**
 * Reads Component manifests (YAML or JSON, several `---` documents per file allowed) and checks each
 * document: apiVersion, kind, metadata.name and the spec (shape and cross-field rules). Never throws for a
 * bad or missing file; everything wrong is a problem with the file, document, field path and line.
 * Component names must be unique across all the files given.
 */
export async function loadComponentManifests(paths: readonly string[]): Promise<ManifestLoadResult> {
  const result: ManifestLoadResult = { manifests: [], problems: [] };
  const seen = new Map<string, string>();
  // Sequential so duplicate names are always reported on the later file, in the order given.
  for (const file of paths) await loadFile(file, result, seen);
  return result;
}
