import { describe, expect, it } from "vitest";
import { classifyAddress, EmbeddingForm } from "../src/index.js";

const IPV4: readonly (readonly [string, string])[] = [
  ["0.0.0.0", "unspecified"],
  ["0.255.1.2", "unspecified"],
  ["127.0.0.1", "loopback"],
  ["127.255.255.254", "loopback"],
  ["10.0.0.1", "private"],
  ["172.16.0.1", "private"],
  ["172.31.255.255", "private"],
  ["192.168.1.1", "private"],
  ["169.254.0.1", "link_local"],
  ["169.254.169.254", "metadata"],
  ["169.254.170.2", "metadata"],
  ["100.100.100.200", "metadata"],
  ["100.64.0.1", "cgnat"],
  ["100.127.255.255", "cgnat"],
  ["224.0.0.1", "multicast"],
  ["239.255.255.250", "multicast"],
  ["255.255.255.255", "broadcast"],
  ["240.0.0.1", "reserved"],
  ["192.0.0.8", "reserved"],
  ["192.0.2.1", "documentation"],
  ["198.51.100.7", "documentation"],
  ["203.0.113.9", "documentation"],
  ["198.18.0.1", "benchmarking"],
  ["192.175.48.1", "reserved"], // AS112: special-purpose per ipaddr.js, not in our table
  ["8.8.8.8", "public"],
  ["172.32.0.1", "public"],
  ["100.128.0.1", "public"],
  ["1.1.1.1", "public"],
];

const IPV6: readonly (readonly [string, string])[] = [
  ["::", "unspecified"],
  ["::1", "loopback"],
  ["fe80::1", "link_local"],
  ["febf:ffff::1", "link_local"],
  ["fc00::1", "unique_local"],
  ["fd12:3456::1", "unique_local"],
  ["fd00:ec2::254", "metadata"],
  ["ff02::1", "multicast"],
  ["2001:db8::1", "documentation"],
  ["3fff::1", "documentation"],
  ["2001:2::1", "benchmarking"],
  ["fec0::1", "reserved"],
  ["100::1", "reserved"],
  ["4000::1", "reserved"], // outside 2000::/3, unallocated
  ["2001:10::1", "reserved"], // ORCHID, inside 2001::/23
  ["2606:4700:4700::1111", "public"],
  ["2a00:1450:4001:80b::200e", "public"],
];

describe("classifyAddress", () => {
  it.each(IPV4)("IPv4 %s is %s", (address, expected) => {
    expect(classifyAddress(address).addressClass).toBe(expected);
  });

  it.each(IPV6)("IPv6 %s is %s", (address, expected) => {
    expect(classifyAddress(address).addressClass).toBe(expected);
  });

  const EMBEDDED: readonly (readonly [string, string, string, string])[] = [
    ["::ffff:127.0.0.1", "loopback", EmbeddingForm.Mapped, "127.0.0.1"],
    ["::ffff:a9fe:a9fe", "metadata", EmbeddingForm.Mapped, "169.254.169.254"],
    ["::ffff:0:a00:1", "private", EmbeddingForm.Translated, "10.0.0.1"],
    ["::127.0.0.1", "loopback", EmbeddingForm.Compatible, "127.0.0.1"],
    ["::a9fe:a9fe", "metadata", EmbeddingForm.Compatible, "169.254.169.254"],
    ["64:ff9b::7f00:1", "loopback", EmbeddingForm.Nat64, "127.0.0.1"],
    ["64:ff9b::c0a8:101", "private", EmbeddingForm.Nat64, "192.168.1.1"],
    ["64:ff9b:1::a9fe:a9fe", "metadata", EmbeddingForm.Nat64Local, "169.254.169.254"],
    ["2002:7f00:1::1", "loopback", EmbeddingForm.SixToFour, "127.0.0.1"],
    ["2002:a00:1::", "private", EmbeddingForm.SixToFour, "10.0.0.1"],
    ["2001:0:4136:e378:8000:63bf:80ff:fffe", "loopback", EmbeddingForm.Teredo, "127.0.0.1"],
    ["2001::f5ff:fffe", "private", EmbeddingForm.Teredo, "10.0.0.1"],
  ];
  it.each(EMBEDDED)("%s carries a %s address (%s %s)", (address, expected, form, ipv4) => {
    expect(classifyAddress(address)).toMatchObject({ addressClass: expected, embedded: { form, ipv4 } });
  });

  it("lets a public IPv4 address through each embedding", () => {
    for (const address of ["::ffff:8.8.8.8", "64:ff9b::808:808", "2002:808:808::1", "2001::f7f7:f7f7"])
      expect(classifyAddress(address).addressClass).toBe("public");
  });

  it("refuses a NAT64 local-use address if any RFC 6052 placement reads as denied", () => {
    // Read at /96 this is 1.2.3.4; read at /64 it is 127.0.0.1, which a translator configured that way would dial.
    expect(classifyAddress("64:ff9b:1:0:7f:0:102:304").addressClass).not.toBe("public");
    // 127.0.0.1 at the /48 placement (bytes 6, 7, 9, 10).
    expect(classifyAddress("64:ff9b:1:7f00:0:100::").addressClass).not.toBe("public");
    // So in practice the local-use prefix is closed: the zeros of the other placements read as 0.0.0.0.
    expect(classifyAddress("64:ff9b:1::808:808").addressClass).toBe("unspecified");
  });

  it("takes only what a socket takes: odd spellings are invalid here, the URL parser normalizes them", () => {
    for (const text of ["0177.0.0.1", "0x7f.1", "2130706433", "127.1", "localhost", "", "[::1]"])
      expect(classifyAddress(text).addressClass).toBe("invalid");
  });

  it("reads ::a.b.c.d as IPv4-compatible, as the kernel does, not as IPv4-mapped", () => {
    expect(classifyAddress("::127.0.0.1")).toEqual({
      addressClass: "loopback",
      address: "::7f00:1",
      embedded: { form: EmbeddingForm.Compatible, ipv4: "127.0.0.1" },
    });
    expect(classifyAddress("::ffff:127.0.0.1").address).toBe("::ffff:7f00:1");
  });

  it("names the address in its canonical form", () => {
    expect(classifyAddress("0:0:0:0:0:ffff:7f00:0001").address).toBe("::ffff:7f00:1");
    expect(classifyAddress("2001:DB8:0::1").address).toBe("2001:db8::1");
  });
});
