import type { Bus } from "@tessera/bus";

/**
 * The bus, with some of its methods replaced: for fixtures that hold, fail or observe one call (a publish
 * that never settles, a process that dies right after a publish) and leave everything else real.
 */
export function withOverrides(bus: Bus, overrides: Partial<Record<keyof Bus, unknown>>): Bus {
  return new Proxy(bus, {
    get(target, prop) {
      if (Object.prototype.hasOwnProperty.call(overrides, prop)) return overrides[prop as keyof Bus];
      const value: unknown = Reflect.get(target, prop);
      return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}
