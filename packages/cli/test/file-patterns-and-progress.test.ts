import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { expandFilePattern } from "../src/files/expand-file-pattern.js";
import { createProgress } from "../src/output/progress.js";
import { tempFiles } from "./helpers/temp-files.js";

describe("expandFilePattern", () => {
  it("expands a directory (not recursive), a glob, ** and a plain file; hidden files only when spelled", async () => {
    const dir = await tempFiles({ "a.pdf": "", "b.txt": "", ".c.pdf": "" });
    await mkdir(join(dir, "sub"));
    await writeFile(join(dir, "sub", "d.pdf"), "");
    expect(await expandFilePattern(dir)).toEqual([join(dir, "a.pdf"), join(dir, "b.txt")]);
    expect(await expandFilePattern(`${dir}/*.pdf`)).toEqual([join(dir, "a.pdf")]);
    expect(await expandFilePattern(`${dir}/**/*.pdf`)).toEqual([join(dir, "a.pdf"), join(dir, "sub", "d.pdf")]);
    expect(await expandFilePattern(`${dir}/.*.pdf`)).toEqual([join(dir, ".c.pdf")]);
    expect(await expandFilePattern(`${dir}/?.txt`)).toEqual([join(dir, "b.txt")]);
    expect(await expandFilePattern(join(dir, "b.txt"))).toEqual([join(dir, "b.txt")]);
    expect(await expandFilePattern(join(dir, "none"))).toEqual([]);
  });
});

describe("createProgress", () => {
  const sink = (isTTY: boolean) => {
    const s = { text: "", isTTY, write: (c: string) => void (s.text += c) };
    return s;
  };

  it("rewrites one line on a terminal", () => {
    const out = sink(true);
    const progress = createProgress(out);
    progress.update("1/2");
    progress.update("2/2");
    progress.done("done");
    expect(out.text).toBe("\r\u001b[2K1/2\r\u001b[2K2/2\r\u001b[2Kdone\n");
  });

  it("prints a line at most every interval otherwise, and always the last one", () => {
    const out = sink(false);
    let now = 0;
    const progress = createProgress(out, { intervalMs: 1000, now: () => now });
    progress.update("a");
    now = 1000;
    progress.update("b");
    now = 1500;
    progress.update("c");
    progress.done("done");
    expect(out.text).toBe("b\ndone\n");
  });
});
