import type { ComponentSpec } from "@tessera/contract";
import { describe, expect, it } from "vitest";
import { compilePolicy, EgressPolicyError, OPEN_INTERNET, type EgressAllowlist } from "../src/index.js";

const allowed = (allow: EgressAllowlist, address: string, port = 80) =>
  compilePolicy(allow).checkAddress("h.test", port, address) === undefined;

describe("compilePolicy", () => {
  it("by default opens the public internet and nothing else", () => {
    const policy = compilePolicy();
    expect(policy.checkAddress("h.test", 443, "8.8.8.8")).toBeUndefined();
    expect(policy.checkAddress("h.test", 443, "2606:4700::1")).toBeUndefined();
    expect(policy.checkAddress("h.test", 443, "10.1.2.3")).toEqual({
      rule: "address_class",
      addressClass: "private",
      host: "h.test",
      port: 443,
      address: "10.1.2.3",
    });
    expect(policy.checkPort("h.test", 22)).toBeUndefined();
  });

  it("opens a listed CIDR even for a class denied by default, and nothing more without openInternet", () => {
    const allow = { cidrs: ["127.0.0.1/32"] };
    expect(allowed(allow, "127.0.0.1")).toBe(true);
    expect(allowed(allow, "::ffff:127.0.0.1")).toBe(true); // the kernel dials 127.0.0.1
    expect(allowed(allow, "127.0.0.2")).toBe(false);
    expect(allowed(allow, "64:ff9b::7f00:1")).toBe(false); // a NAT64 gateway, not this host
    expect(allowed(allow, "10.0.0.1")).toBe(false);
    expect(compilePolicy(allow).checkAddress("h.test", 80, "8.8.8.8")).toMatchObject({
      rule: "not_allowlisted",
      addressClass: "public",
    });
  });

  it("reads an IPv4-mapped CIDR as the IPv4 range it dials", () => {
    expect(allowed({ cidrs: ["::ffff:127.0.0.0/104"] }, "127.9.9.9")).toBe(true);
  });

  it("narrows every rule to the listed TCP ports", () => {
    const allow: EgressAllowlist = { openInternet: true, cidrs: ["127.0.0.1/32"], ports: [{ port: 8080 }] };
    const policy = compilePolicy(allow);
    expect(policy.checkPort("h.test", 8080)).toBeUndefined();
    expect(policy.checkPort("h.test", 80)).toEqual({ rule: "port", host: "h.test", port: 80 });
    expect(allowed(allow, "8.8.8.8", 8080)).toBe(true);
    expect(allowed(allow, "127.0.0.1", 8080)).toBe(true);
    expect(policy.checkAddress("h.test", 443, "127.0.0.1")).toMatchObject({ rule: "port", addressClass: "loopback" });
    // A UDP rule opens no HTTP connection.
    expect(compilePolicy({ openInternet: true, ports: [{ port: 53, protocol: "UDP" }] }).checkPort("h", 53)).toEqual({
      rule: "port",
      host: "h",
      port: 53,
    });
  });

  it("never opens a cloud metadata address, whatever CIDR is listed", () => {
    const allow = { cidrs: ["169.254.0.0/16", "fd00:ec2::/32", "100.64.0.0/10"], openInternet: true };
    for (const address of ["169.254.169.254", "fd00:ec2::254", "100.100.100.200", "::ffff:169.254.169.254"])
      expect(compilePolicy(allow).checkAddress("h", 80, address)).toMatchObject({ addressClass: "metadata" });
    expect(allowed(allow, "169.254.1.1")).toBe(true);
  });

  it("opens nothing for clusterPeers: a pod label cannot be checked against an address", () => {
    expect(allowed({ clusterPeers: [{ namespace: "tessera" }] }, "10.0.0.5")).toBe(false);
    expect(allowed({ clusterPeers: [{ namespace: "tessera" }] }, "8.8.8.8")).toBe(false);
  });

  it("takes a Component spec's allowlist as it is", () => {
    const spec: ComponentSpec = {
      image: "x",
      inputMode: "content-ref",
      egress: "allowlist",
      allowlist: { cidrs: ["203.0.113.0/24"], ports: [{ port: 443, protocol: "TCP" }] },
    };
    expect(compilePolicy(spec.allowlist).checkAddress("h", 443, "203.0.113.7")).toBeUndefined();
  });

  it.each([
    [{ cidrs: ["10.0.0.0/33"] }, "cidrs[0]"],
    [{ cidrs: ["example.com/24"] }, "cidrs[0]"],
    [{ cidrs: ["0.0.0.0/0"] }, "openInternet"],
    [{ cidrs: ["::/0"] }, "openInternet"],
    [{ ports: [{ port: 70000 }] }, "/ports/0/port"],
    [{ hosts: ["example.com"] }, "/hosts: Unexpected property"],
  ])("refuses the malformed policy %j", (allow, mentions) => {
    let thrown: unknown;
    try {
      compilePolicy(allow as EgressAllowlist);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(EgressPolicyError);
    expect(thrown).toMatchObject({ code: "egress_bad_policy" });
    expect((thrown as Error).message).toContain(mentions);
  });

  it("exports the default as a frozen value", () => {
    expect(OPEN_INTERNET).toEqual({ openInternet: true });
    expect(Object.isFrozen(OPEN_INTERNET)).toBe(true);
  });
});
