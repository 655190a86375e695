import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { classifyAddress, compilePolicy, EgressDeniedError, FetchUrlError } from "../src/index.js";
import { checkTarget, parseTarget } from "../src/target.js";
import { anyIPv4, deniedIPv4, ipv4Spelling, ipv6Embeddings } from "./encodings.js";

const policy = compilePolicy(); // the default: public internet only

/** What fetch would decide for this URL host before dialing: "allowed" or "denied:<class>". */
function decide(host: string): string {
  const target = parseTarget(`http://${host}/`);
  // An address host must be seen as one: no lookup hook is ever called for it.
  expect(target.literal).toBe(true);
  try {
    checkTarget(policy, target);
    return "allowed";
  } catch (err) {
    if (err instanceof EgressDeniedError) return `denied:${err.addressClass}`;
    throw err;
  }
}

const canonical = (address: string): string => {
  const { addressClass } = classifyAddress(address);
  return addressClass === "public" ? "allowed" : `denied:${addressClass}`;
};
const verdictOnly = (decision: string) => decision.split(":")[0];

describe("odd spellings of an address reach the canonical form's decision", () => {
  it("every denied IPv4 range: dotted, decimal, octal, hex, 1-3 part short forms, %-encoded, trailing dot", () => {
    fc.assert(
      fc.property(
        deniedIPv4.chain((address) => fc.tuple(fc.constant(address), ipv4Spelling(address))),
        ([address, { host }]) => {
          expect(canonical(address)).toMatch(/^denied:/);
          expect(decide(host)).toBe(canonical(address));
        },
      ),
      { numRuns: 2000 },
    );
  });

  it("any IPv4 address, public ones included, spelled any way", () => {
    fc.assert(
      fc.property(
        anyIPv4.chain((address) => fc.tuple(fc.constant(address), ipv4Spelling(address))),
        ([address, { host }]) => {
          expect(decide(host)).toBe(canonical(address));
        },
      ),
      { numRuns: 2000 },
    );
  });

  it("every denied IPv4 range carried in IPv6: mapped, compatible, translated, NAT64, local NAT64, 6to4, Teredo", () => {
    fc.assert(
      fc.property(
        deniedIPv4.chain((address) => fc.tuple(fc.constant(address), ipv6Embeddings(address))),
        ([address, { kind, host }]) => {
          const decision = decide(host);
          expect(verdictOnly(decision)).toBe("denied");
          // The class is the IPv4 address's own, except where another reading denies first: a local NAT64
          // address read at a placement other than /96, and ::0.0.0.1, which is IPv6's loopback ::1.
          if (!kind.startsWith("nat64_local") && host !== "[::0.0.0.1]") expect(decision).toBe(canonical(address));
        },
      ),
      { numRuns: 3000 },
    );
  });

  it("a public IPv4 address carried in IPv6 is as public as itself (local-use NAT64 aside, which stays closed)", () => {
    fc.assert(
      fc.property(
        anyIPv4.chain((address) => fc.tuple(fc.constant(address), ipv6Embeddings(address))),
        ([address, { kind, host }]) => {
          const decision = verdictOnly(decide(host));
          if (kind.startsWith("nat64_local")) expect(decision).toBe("denied");
          else expect(decision).toBe(verdictOnly(canonical(address)));
        },
      ),
      { numRuns: 3000 },
    );
  });

  it.each([
    ["2130706433", "127.0.0.1"],
    ["0177.0.0.1", "127.0.0.1"],
    ["0x7f.1", "127.0.0.1"],
    ["127.1", "127.0.0.1"],
    ["0x7f000001", "127.0.0.1"],
    ["%31%32%37.0.0.1", "127.0.0.1"],
    ["0251.0376.0251.0376", "169.254.169.254"],
    ["0xa9fea9fe", "169.254.169.254"],
    ["169.254.43518", "169.254.169.254"],
    ["10.1", "10.0.0.1"],
    ["[::ffff:127.0.0.1]", "::ffff:7f00:1"],
    ["[0:0:0:0:0:ffff:a9fe:a9fe]", "::ffff:a9fe:a9fe"],
  ])("the URL parser turns %s into %s before any check", (host, normalized) => {
    expect(parseTarget(`http://${host}:8080/x`).host).toBe(normalized);
  });
});

describe("parseTarget", () => {
  it.each([
    ["not a url", "not a valid URL"],
    ["file:///etc/passwd", "scheme file"],
    ["ftp://example.test/", "scheme ftp"],
    ["gopher://example.test:70/", "scheme gopher"],
    ["data:text/plain,hi", "scheme data"],
    ["javascript:alert(1)", "scheme javascript"],
    ["http://user:secret@example.test/", "credentials"],
    ["http://1.2.3.4.5/", "not a valid URL"],
    ["http://0x100000000/", "not a valid URL"],
  ])("refuses %s", (url, problem) => {
    let thrown: unknown;
    try {
      parseTarget(url);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(FetchUrlError);
    expect(thrown).toMatchObject({ code: "fetch_bad_url" });
    expect((thrown as Error).message).toContain(problem);
    expect((thrown as Error).message).not.toContain("secret");
  });

  it("names the default ports", () => {
    expect(parseTarget("http://example.test/").port).toBe(80);
    expect(parseTarget("https://example.test/").port).toBe(443);
    expect(parseTarget("https://example.test:8443/").port).toBe(8443);
    expect(parseTarget("https://example.test/").literal).toBe(false);
  });
});
