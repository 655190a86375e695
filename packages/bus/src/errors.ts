/** Base of every error the bus raises on purpose; `code` is stable and usable as a reason code. */
export class BusError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** The component's stream or consumer does not exist (and this caller may not create it). */
export class BusNotProvisionedError extends BusError {
  constructor(component: string, what: string) {
    super(
      "bus_not_provisioned",
      `component ${JSON.stringify(component)}: ${what} does not exist; provision it first (ensureComponent, or the controller in Kubernetes mode)`,
    );
  }
}

export class PayloadTooLargeError extends BusError {
  constructor(ref: string, maxBytes: number, seen: number) {
    super("payload_too_large", `payload ${ref}: more than max_bytes ${maxBytes} (${seen} bytes seen)`);
  }
}

export class PayloadNotOwnedError extends BusError {
  constructor(ref: string, jobId: string) {
    super("payload_not_owned", `payload ${ref} does not belong to job ${jobId}`);
  }
}

export class PayloadMissingError extends BusError {
  constructor(ref: string) {
    super("payload_missing", `payload ${ref} does not exist (expired after the store's TTL, or deleted)`);
  }
}

export class BusClosedError extends BusError {
  constructor() {
    super("bus_closed", "the bus is closed");
  }
}
