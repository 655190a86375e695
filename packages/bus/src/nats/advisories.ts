/** The fields the bus reads from a JetStream max-deliveries advisory. */
export interface MaxDeliveriesAdvisory {
  stream: string;
  consumer: string;
  stream_seq: number;
  deliveries: number;
}

/** The advisory's fields, or undefined for anything that is not one (the advisory stream is not ours alone). */
export function parseMaxDeliveriesAdvisory(data: Uint8Array): MaxDeliveriesAdvisory | undefined {
  try {
    const v = JSON.parse(new TextDecoder().decode(data)) as Partial<Record<keyof MaxDeliveriesAdvisory, unknown>>;
    if (typeof v.stream === "string" && typeof v.stream_seq === "number" && typeof v.deliveries === "number") {
      return {
        stream: v.stream,
        consumer: typeof v.consumer === "string" ? v.consumer : "",
        stream_seq: v.stream_seq,
        deliveries: v.deliveries,
      };
    }
  } catch {
    // not an advisory
  }
  return undefined;
}
