import { describe, expect, it } from "vitest";
import { runTessera } from "./helpers/run-tessera.js";

// None of these reach the network: a closed port proves it (a request would exit 3, not 2).
const url = ["--url", "http://127.0.0.1:9"];

describe("usage errors exit 2 and name the flag", () => {
  it.each([
    [
      ["jobs", "list", "--state", "done", ...url],
      /option '--state <state>' argument 'done' is invalid\. Expected one of pending, queued, completed, failed, cancelled/,
    ],
    [
      ["jobs", "list", "--limit", "0", ...url],
      /option '--limit <n>' argument '0' is invalid\. Expected a whole number from 1 to 500/,
    ],
    [["jobs", "list", "--limit", "ten", ...url], /option '--limit <n>'/],
    [["dlq", "list", "--limit", "501", ...url], /option '--limit <n>' argument '501'/],
    [
      ["jobs", "submit", "c", "--text", "x", "--meta", "tenant", ...url],
      /option '--meta <key=value>' argument 'tenant' is invalid\. Expected key=value/,
    ],
    [
      ["jobs", "submit", "c", "--text", "x", "--meta", "a=1", "--meta", "a=2", ...url],
      /option '--meta <key=value>' argument 'a=2' is invalid\. Key "a" is given twice/,
    ],
    [
      ["jobs", "submit", "c", "--text", "x", "--file", "f", ...url],
      /option '--text <text>' cannot be used with option '--file <path>'/,
    ],
    [
      ["jobs", "submit", "c", "--json-input", "{}", "--files", "d", ...url],
      /option '--json-input <json>' cannot be used with option '--files <glob\|dir>'/,
    ],
    [
      ["jobs", "submit", "c", "--json-input", "{nope", ...url],
      /option '--json-input <json>' argument '\{nope' is invalid\. Expected JSON/,
    ],
    [
      ["jobs", "submit", "c", "--text", "x", "--deadline", "tomorrow", ...url],
      /option '--deadline <time\|duration>' argument 'tomorrow' is invalid/,
    ],
    [
      ["jobs", "submit", "c", ...url],
      /no input: give --json-input <json>, --text <text>, --file <path>, --files <glob\|dir> or --source-url <url>/,
    ],
    [
      ["jobs", "submit", "c", "--source-url", "https://docs.example.com/a.pdf", "--file", "f", ...url],
      /option '--source-url <url>' cannot be used with option '--file <path>'/,
    ],
    [
      ["jobs", "submit", "c", "--text", "x", "--source-url", "https://docs.example.com/a.pdf", ...url],
      /option '--text <text>' cannot be used with option '--source-url <url>'/,
    ],
    [
      ["jobs", "submit", "c", "--text", "x", "--source-secret", "docs", ...url],
      /--source-secret: only with --source-url/,
    ],
    [
      ["jobs", "submit", "c", "--file", "/nonexistent/input.pdf", ...url],
      /--file: cannot read "\/nonexistent\/input\.pdf": no such file/,
    ],
    [
      ["jobs", "submit", "c", "--files", "/nonexistent/*.pdf", ...url],
      /--files: nothing matches "\/nonexistent\/\*\.pdf"/,
    ],
    [["jobs", "watch", "job-1", "--component", "c", ...url], /give job ids or --component <name>, not both/],
    [
      ["jobs", "list", "--url", "localhost:7400"],
      /--url: expected an http\(s\) URL such as http:\/\/127\.0\.0\.1:7400, got "localhost:7400"/,
    ],
    [["dlq", "redrive", ...url], /give a job id, or --component <name> --all/],
    [["dlq", "redrive", "--component", "c", ...url], /give a job id, or --component <name> --all/],
    [["dlq", "redrive", "job-1", "--all", ...url], /not both/],
    [["jobs", "get", ...url], /missing required argument 'id'/],
    [["jobs", "list", "--colour", ...url], /unknown option '--colour'/],
    [["job", "list"], /unknown command 'job'/],
    [["validate"], /missing required argument 'files'/],
  ])("tessera %j", async (args, message) => {
    const result = await runTessera(args);
    expect(result.stderr).toMatch(message);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe("");
  });

  it("a bad TESSERA_URL is named as such", async () => {
    const result = await runTessera(["components"], { env: { TESSERA_URL: "ftp://x" } });
    expect(result).toMatchObject({
      code: 2,
      stderr: expect.stringContaining("TESSERA_URL: expected an http(s) URL") as unknown,
    });
  });

  it("tessera with no command prints the help on stderr and exits 2", async () => {
    const result = await runTessera([]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("Usage: tessera");
  });
});

describe("help", () => {
  it.each([
    ["validate"],
    ["jobs"],
    ["dlq"],
    ["jobs", "submit"],
    ["jobs", "get"],
    ["jobs", "list"],
    ["jobs", "cancel"],
    ["jobs", "watch"],
    ["dlq", "list"],
    ["dlq", "redrive"],
    ["components"],
    ["config"],
  ])("tessera %s --help shows examples and exits 0", async (...command) => {
    const result = await runTessera([...command, "--help"]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`Usage: tessera ${command.join(" ")}`);
    expect(result.stdout).toContain("Examples:\n  $ tessera ");
  });

  it("the top-level help lists the exit codes", async () => {
    const result = await runTessera(["--help"]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("Exit codes: 0 ok, 1 the operation failed");
  });
});
