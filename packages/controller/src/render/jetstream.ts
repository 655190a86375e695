import {
  busSettingsFromSpec,
  jobConsumerConfig,
  jobStreamConfig,
  type ComponentSpec,
  type JobConsumerConfig,
  type JobStreamConfig,
} from "@tessera/contract";

// The configs themselves live in @tessera/contract, shared with the bus, which creates the same objects.
export type StreamConfig = JobStreamConfig;
export type ConsumerConfig = JobConsumerConfig;

/** The stream (WorkQueue, file storage) holding the component's jobs. Defaults come from the contract. */
export function renderStreamConfig(name: string, spec: ComponentSpec): StreamConfig {
  return jobStreamConfig(busSettingsFromSpec(name, spec));
}

/** The durable pull consumer the workers bind (and KEDA reads the lag of); the controller pre-creates it. */
export function renderConsumerConfig(name: string, spec: ComponentSpec): ConsumerConfig {
  return jobConsumerConfig(busSettingsFromSpec(name, spec));
}
