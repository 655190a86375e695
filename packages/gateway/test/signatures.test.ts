import { describe, expect, it } from "vitest";
import {
  signGitHub,
  signSlack,
  signStandardWebhook,
  standardWebhookHeaders,
  verifyGitHub,
  verifySlack,
  verifyStandardWebhook,
} from "@tessera/gateway";

const bytes = (s: string) => Buffer.from(s, "utf8");
const at = (unixSeconds: number) => new Date(unixSeconds * 1000);

describe("Standard Webhooks v1", () => {
  // The standard-webhooks repository's published vector (libraries/javascript/src/webhook.test.ts, "sign function works").
  const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
  const id = "msg_p5jXN8AQM9LWM0D4loKWxJek";
  const timestamp = 1614265330;
  const payload = '{"test": 2432232314}';
  const published = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
  const headers = { "webhook-id": id, "webhook-timestamp": String(timestamp), "webhook-signature": published };
  const check = (over: Partial<Parameters<typeof verifyStandardWebhook>[0]> = {}) =>
    verifyStandardWebhook({ headers, body: bytes(payload), secrets: [secret], now: at(timestamp + 10), ...over });

  it("signs the published example to the published signature, with or without the whsec_ prefix", () => {
    expect(signStandardWebhook(secret, id, timestamp, payload)).toBe(published);
    expect(signStandardWebhook(secret.slice("whsec_".length), id, timestamp, payload)).toBe(published);
  });

  it("verifies the published example", () => {
    expect(check()).toEqual({ ok: true });
  });

  it("accepts any matching v1 signature among several (key rotation), and any accepted key", () => {
    const rotated = {
      ...headers,
      "webhook-signature": `v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= v2,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= ${published}`,
    };
    expect(check({ headers: rotated })).toEqual({ ok: true });
    const newKey = "whsec_" + Buffer.from("a new key of 24 bytes!!!").toString("base64");
    expect(check({ secrets: [newKey, secret] })).toEqual({ ok: true });
    const both = standardWebhookHeaders([newKey, secret], id, timestamp, payload);
    expect(both["webhook-signature"].split(" ")).toHaveLength(2);
    expect(check({ headers: both, secrets: [newKey] })).toEqual({ ok: true });
  });

  it("refuses a tampered body, a wrong key, a partial signature and missing headers", () => {
    expect(check({ body: bytes('{"test": 2432232315}') })).toMatchObject({ ok: false, reason: "signature_mismatch" });
    const wrong = "whsec_" + Buffer.from("not the key").toString("base64");
    expect(check({ secrets: [wrong] })).toMatchObject({ ok: false, reason: "signature_mismatch" });
    expect(check({ headers: { ...headers, "webhook-signature": published.slice(0, 8) } })).toMatchObject({ ok: false });
    expect(check({ headers: { ...headers, "webhook-signature": "v1," } })).toMatchObject({ ok: false });
    expect(check({ headers: { ...headers, "webhook-id": undefined } })).toMatchObject({ reason: "signature_missing" });
    expect(check({ headers: { ...headers, "webhook-timestamp": "hello" } })).toMatchObject({
      reason: "timestamp_missing",
    });
    expect(check({ secrets: [] })).toMatchObject({ reason: "secret_missing" });
  });

  it("refuses a timestamp more than five minutes away, either side", () => {
    expect(check({ now: at(timestamp + 300) })).toEqual({ ok: true });
    expect(check({ now: at(timestamp + 301) })).toMatchObject({ reason: "timestamp_stale", detail: /301 s old/ });
    expect(check({ now: at(timestamp - 301) })).toMatchObject({ reason: "timestamp_stale", detail: /in the future/ });
  });
});

describe("GitHub X-Hub-Signature-256", () => {
  // docs.github.com, "Validating webhook deliveries": the values to test an implementation with.
  const secret = "It's a Secret to Everybody";
  const payload = "Hello, World!";
  const published = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
  const check = (body: string, secrets: string[], header = published) =>
    verifyGitHub({ headers: { "x-hub-signature-256": header }, body: bytes(body), secrets });

  it("signs and verifies the documented example", () => {
    expect(signGitHub(secret, payload)).toBe(published);
    expect(check(payload, [secret])).toEqual({ ok: true });
    expect(check(payload, ["old secret", secret])).toEqual({ ok: true });
  });

  it("refuses a tampered body, a wrong secret, a malformed or missing header", () => {
    expect(check("Hello, World?", [secret])).toMatchObject({ ok: false, reason: "signature_mismatch" });
    expect(check(payload, ["It's a secret to everybody"])).toMatchObject({ ok: false, reason: "signature_mismatch" });
    expect(check(payload, [secret], "sha1=757107ea0eb2509fc211221cce984b8a37570b6d")).toMatchObject({
      reason: "signature_malformed",
    });
    expect(verifyGitHub({ headers: {}, body: bytes(payload), secrets: [secret] })).toMatchObject({
      reason: "signature_missing",
    });
  });
});

describe("Slack v0 signing", () => {
  // api.slack.com, "Verifying requests from Slack": the worked example (a slash command's form body).
  const secret = "8f742231b10e8888abcd99yyyzzz85a5";
  const timestamp = 1531420618;
  const body =
    "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
  const published = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";
  const headers = { "x-slack-signature": published, "x-slack-request-timestamp": String(timestamp) };
  const check = (over: Partial<Parameters<typeof verifySlack>[0]> = {}) =>
    verifySlack({ headers, body: bytes(body), secrets: [secret], now: at(timestamp + 1), ...over });

  it("signs and verifies the documented example", () => {
    expect(signSlack(secret, timestamp, body)).toBe(published);
    expect(check()).toEqual({ ok: true });
  });

  it("refuses a tampered body, a wrong secret and a stale or missing timestamp", () => {
    expect(check({ body: bytes(body.replace("roadrunner", "coyote")) })).toMatchObject({
      reason: "signature_mismatch",
    });
    expect(check({ secrets: ["8f742231b10e8888abcd99yyyzzz85a6"] })).toMatchObject({ reason: "signature_mismatch" });
    expect(check({ now: at(timestamp + 5 * 60) })).toEqual({ ok: true });
    expect(check({ now: at(timestamp + 5 * 60 + 1) })).toMatchObject({ reason: "timestamp_stale" });
    expect(check({ headers: { "x-slack-signature": published } })).toMatchObject({ reason: "timestamp_missing" });
    expect(check({ headers: { ...headers, "x-slack-signature": "v1=abc" } })).toMatchObject({
      reason: "signature_malformed",
    });
    // The timestamp is signed: moving it invalidates the signature even inside the tolerance.
    expect(check({ headers: { ...headers, "x-slack-request-timestamp": String(timestamp + 1) } })).toMatchObject({
      reason: "signature_mismatch",
    });
  });
});
