import { describe, expect, it } from "vitest";
import {
  AdapterRegistryError,
  createAdapterRegistry,
  githubInbound,
  slackInbound,
  slackOutbound,
  standardWebhooksInbound,
  staticAccounts,
  webhookSender,
  type InboundAdapter,
} from "@tessera/gateway";

describe("adapter registry", () => {
  it("finds adapters by slug and lists the channel types", () => {
    const registry = createAdapterRegistry({
      inbound: [slackInbound(), githubInbound(), standardWebhooksInbound()],
      outbound: [slackOutbound(), webhookSender()],
    });
    expect(registry.inbound("github")?.channelType).toBe("github");
    expect(registry.outbound("slack")?.capabilities).toEqual({ edit: true, threads: true, attachments: false });
    expect(registry.outbound("github")).toBeUndefined();
    expect(registry.channelTypes).toEqual(["github", "slack", "webhook"]);
  });

  it("refuses a slug registered twice, at startup", () => {
    expect(() => createAdapterRegistry({ inbound: [slackInbound(), slackInbound()] })).toThrow(AdapterRegistryError);
    expect(() => createAdapterRegistry({ outbound: [webhookSender(), webhookSender()] })).toThrow(
      /outbound adapter "webhook" is registered twice/,
    );
  });

  it("refuses a slug the contract does not allow", () => {
    const bad: InboundAdapter = { ...slackInbound(), channelType: "Slack.Events" };
    expect(() => createAdapterRegistry({ inbound: [bad] })).toThrow(/channel type must match/);
  });

  it("refuses an account listed twice", () => {
    const a = { channelType: "slack", tenant: "t", account: "a", signingSecrets: [] };
    expect(() => staticAccounts([a, { ...a }])).toThrow(/listed twice/);
  });
});
