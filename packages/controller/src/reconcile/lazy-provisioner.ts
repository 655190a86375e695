import type { ComponentBusSettings } from "@tessera/contract";
import type { StreamProvisioner } from "./reconciler.js";

export interface ClosableProvisioner extends StreamProvisioner {
  close(): Promise<void>;
}

/**
 * A StreamProvisioner that connects on first use and again after a failed attempt, so a controller
 * started while NATS is down runs (and reports not ready, and sets StreamReady=False on its Components)
 * instead of crash-looping; once NATS answers, the retried reconciles provision everything.
 */
export class LazyProvisioner implements StreamProvisioner {
  private current: ClosableProvisioner | undefined;
  private connecting: Promise<ClosableProvisioner> | undefined;
  private closed = false;

  constructor(private readonly connect: () => Promise<ClosableProvisioner>) {}

  async ensureComponent(settings: ComponentBusSettings): Promise<void> {
    await (await this.provisioner()).ensureComponent(settings);
  }

  async removeComponent(component: string): Promise<void> {
    await (await this.provisioner()).removeComponent(component);
  }

  isConnected(): boolean {
    return this.current?.isConnected() === true;
  }

  /** Tries to connect now (the controller calls this at startup so readiness reflects NATS at once). */
  async warmUp(): Promise<boolean> {
    try {
      await this.provisioner();
      return true;
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.current?.close();
  }

  private async provisioner(): Promise<ClosableProvisioner> {
    if (this.closed) throw new Error("the NATS connection is closed");
    if (this.current !== undefined && this.current.isConnected()) return this.current;
    this.connecting ??= this.connect().then(
      (p) => {
        this.connecting = undefined;
        const stale = this.current;
        this.current = p;
        void stale?.close().catch(() => undefined);
        return p;
      },
      (err: unknown) => {
        this.connecting = undefined;
        throw err;
      },
    );
    return this.connecting;
  }
}
