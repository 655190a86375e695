import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";

const GLOB_CHARS = /[*?]/;

/** `*` and `?` within one path segment, `**` across any number of them; everything else is literal. */
function globToRegExp(pattern: string): RegExp {
  let out = "";
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] as string;
    if (c === "*" && pattern[i + 1] === "*") {
      const slash = pattern[i + 2] === "/";
      out += slash ? "(?:.*/)?" : ".*";
      i += slash ? 2 : 1;
    } else if (c === "*") out += "[^/]*";
    else if (c === "?") out += "[^/]";
    else out += c.replace(/[.+^${}()|[\]\\]/g, "\\$&");
  }
  return new RegExp(`^${out}$`);
}

/** Files under `dir` whose path relative to it matches; descends only as deep as the pattern can reach. */
async function walk(
  dir: string,
  rest: string,
  match: RegExp,
  maxDepth: number,
  depth = 0,
  prefix = "",
): Promise<string[]> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  const found: string[] = [];
  for (const entry of entries) {
    // Like a shell: hidden files and directories only when the pattern spells the dot.
    if (entry.name.startsWith(".") && !rest.includes("/.") && !rest.startsWith(".")) continue;
    const relative = prefix === "" ? entry.name : `${prefix}/${entry.name}`;
    const full = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (depth + 1 < maxDepth) found.push(...(await walk(full, rest, match, maxDepth, depth + 1, relative)));
    } else if (match.test(relative)) {
      found.push(full);
    }
  }
  return found;
}

/**
 * `--files` values: a directory (its files, not recursive), a glob (`docs/*.pdf`, `in/**\/*.json`) or a
 * plain file. Sorted; empty when nothing matches.
 */
export async function expandFilePattern(pattern: string): Promise<string[]> {
  if (!GLOB_CHARS.test(pattern)) {
    const info = await stat(pattern).catch(() => undefined);
    if (info === undefined) return [];
    if (info.isFile()) return [pattern];
    return info.isDirectory() ? (await walk(pattern, "*", /^[^/]*$/, 1)).sort() : [];
  }
  const parts = pattern.split("/");
  const firstGlob = parts.findIndex((p) => GLOB_CHARS.test(p));
  const base = parts.slice(0, firstGlob).join("/");
  const rest = parts.slice(firstGlob).join("/");
  const maxDepth = rest.includes("**") ? Number.POSITIVE_INFINITY : parts.length - firstGlob;
  const root = base === "" ? (pattern.startsWith("/") ? "/" : ".") : base;
  return (await walk(root, rest, globToRegExp(rest), maxDepth)).sort();
}
