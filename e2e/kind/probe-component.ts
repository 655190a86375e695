import { defineComponent } from "@tessera/worker";

/**
 * The e2e probe: it only runs if its job reached it over NATS, and it reports whether the open internet
 * is reachable from its pod. With egress `none` the answer must be "blocked".
 */
export default defineComponent({
  name: "e2e-probe",
  concurrency: 2,
  async handle() {
    let internet: string;
    try {
      await fetch("http://1.1.1.1/", { signal: AbortSignal.timeout(3_000) });
      internet = "reachable";
    } catch (err) {
      internet = `blocked (${(err as Error).name})`;
    }
    return { internet, nats: "reachable (the job arrived over NATS)", host: process.env["HOSTNAME"] ?? "?" };
  },
});
