import { componentNameProblem, validateComponentSpec, type ComponentSpec } from "@tessera/contract";
import { LineCounter, parseAllDocuments, type Document } from "yaml";
import { ExitCode } from "../exit-codes.js";
import { FileRefusedError, readRegularFile } from "../files/read-regular-file.js";
import { formatMebibytes } from "../output/format.js";
import { lineOf } from "./yaml-line.js";

export const MANIFEST_API_VERSION = "tessera.dev/v1alpha1";
export const MANIFEST_KIND = "Component";
const TOP_LEVEL_FIELDS = ["apiVersion", "kind", "metadata", "spec"];

/** A manifest file is a few KiB; a bigger one is not read (a device, a log given by mistake). */
const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

/**
 * Alias expansions a document may make, weighted by what each alias holds (the `yaml` library's
 * maxAliasCount, its default made explicit): a billion-laughs document, whose aliases expand to
 * exponentially many nodes, is refused instead of filling the heap.
 */
const MAX_ALIAS_COUNT = 100;

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
 * - `syntax`: the YAML/JSON does not parse, or its aliases expand without bound (`path` is "(yaml)"); a
 *   usage error too.
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

/** The exit code for a command whose manifests have these problems: 2 when a file is unreadable or not YAML, else 1. */
export function manifestExitCode(problems: readonly ManifestProblem[]): ExitCode {
  if (problems.some((p) => p.kind === "file" || p.kind === "syntax")) return ExitCode.Usage;
  return problems.length > 0 ? ExitCode.Failed : ExitCode.Ok;
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

/** A document's value, or why it has none: an alias bomb, an alias to no anchor, or nesting too deep. */
function valueOf(doc: Document): { ok: true; value: unknown } | { ok: false; message: string } {
  try {
    return { ok: true, value: doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT }) };
  } catch (err) {
    if (!(err instanceof Error)) throw err;
    if (/alias count/i.test(err.message))
      return {
        ok: false,
        message: `its aliases expand too far (over maxAliasCount ${MAX_ALIAS_COUNT}): an alias bomb such as "billion laughs"`,
      };
    return { ok: false, message: syntaxMessage(err.message) };
  }
}

async function loadFile(file: string, result: ManifestLoadResult, seen: Map<string, string>): Promise<void> {
  let text: string;
  try {
    text = (await readRegularFile(file, MAX_MANIFEST_BYTES)).toString("utf8");
  } catch (err) {
    if (!(err instanceof FileRefusedError)) throw err;
    result.problems.push({
      kind: "file",
      file,
      document: 0,
      path: "",
      expected: "a readable YAML or JSON file",
      received:
        err.kind === "too_large"
          ? `${err.reason}, more than a manifest may have (${formatMebibytes(MAX_MANIFEST_BYTES)})`
          : err.reason.replace(/, not a regular file$/, ""),
    });
    return;
  }
  const lines = new LineCounter();
  let docs: ReturnType<typeof parseAllDocuments>;
  try {
    // YAML 1.2 is a superset of JSON, so one parser covers both and gives line numbers for both.
    docs = parseAllDocuments(text, { lineCounter: lines, prettyErrors: false });
  } catch (err) {
    // The parser reports what it can as errors; what it throws (a stack overflow on deep nesting) is one too.
    result.problems.push({
      kind: "syntax",
      file,
      document: 0,
      path: "(yaml)",
      expected: "valid YAML or JSON",
      received: `a syntax error: ${syntaxMessage((err as Error).message)}`,
      line: 1,
    });
    return;
  }
  const values = docs.map((doc) => (doc.errors.length === 0 ? valueOf(doc) : undefined));
  // `---` with nothing after it (a trailing separator, a comment-only document) is not a manifest.
  const isEmpty = (index: number): boolean => {
    const value = values[index];
    return value !== undefined && (docs[index]?.contents === null || (value.ok && value.value === null));
  };
  if (docs.every((_, index) => isEmpty(index))) {
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
    const value = values[index];
    if (value === undefined) {
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
    if (!value.ok) {
      result.problems.push({
        kind: "syntax",
        file,
        document: index,
        path: "(yaml)",
        expected: "valid YAML or JSON",
        received: value.message,
        line: lineOf(doc, lines, "") ?? 1,
      });
      return;
    }
    if (isEmpty(index)) return;
    const checked = checkManifest(value.value);
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
