import { CHANNEL_TYPE_PATTERN } from "@tessera/contract";
import type { InboundAdapter, OutboundAdapter } from "./adapter.js";

/** Refused at startup: two adapters for one slug, or a slug the contract does not allow. */
export class AdapterRegistryError extends Error {
  override readonly name = "AdapterRegistryError";
}

const SLUG = new RegExp(CHANNEL_TYPE_PATTERN);

export interface AdapterRegistry {
  inbound(channelType: string): InboundAdapter | undefined;
  outbound(channelType: string): OutboundAdapter | undefined;
  readonly channelTypes: readonly string[];
  /** Inbound adapters that check no signature (the guard rails refuse them outside local). */
  readonly unsignedInbound: readonly string[];
}

/**
 * Adapters by slug. Built once at startup from the full list, so a duplicate is an error before the first
 * request rather than a silent override by whichever registered last.
 */
export function createAdapterRegistry(adapters: {
  inbound?: readonly InboundAdapter[];
  outbound?: readonly OutboundAdapter[];
}): AdapterRegistry {
  const index = <A extends { channelType: string }>(list: readonly A[], kind: string): Map<string, A> => {
    const map = new Map<string, A>();
    for (const adapter of list) {
      if (!SLUG.test(adapter.channelType))
        throw new AdapterRegistryError(
          `${kind} adapter ${JSON.stringify(adapter.channelType)}: channel type must match ${CHANNEL_TYPE_PATTERN}`,
        );
      if (map.has(adapter.channelType))
        throw new AdapterRegistryError(`${kind} adapter ${JSON.stringify(adapter.channelType)} is registered twice`);
      map.set(adapter.channelType, adapter);
    }
    return map;
  };
  const inbound = index(adapters.inbound ?? [], "inbound");
  const outbound = index(adapters.outbound ?? [], "outbound");
  return {
    inbound: (c) => inbound.get(c),
    outbound: (c) => outbound.get(c),
    channelTypes: [...new Set([...inbound.keys(), ...outbound.keys()])].sort(),
    unsignedInbound: [...inbound.values()].filter((a) => a.unsigned === true).map((a) => a.channelType),
  };
}
