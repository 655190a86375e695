import type { ComponentDefinition } from "@tessera/worker";

/**
 * The component a module exports: its default export, or else its one exported component. Checked by
 * shape rather than `instanceof`-like identity, because the module may have loaded its own copy of
 * @tessera/worker.
 */
export function componentFromModule(mod: Record<string, unknown>, modulePath: string): ComponentDefinition {
  if (looksLikeComponent(mod["default"])) return mod["default"];
  const named = Object.entries(mod).filter(([key, value]) => key !== "default" && looksLikeComponent(value));
  if (named.length === 1) return named[0]?.[1] as ComponentDefinition;
  if (named.length > 1) {
    throw new TypeError(
      `module ${modulePath} exports ${named.length} components (${named.map(([key]) => key).join(", ")}) and none as the default export; make the one to run the default export`,
    );
  }
  throw new TypeError(`module ${modulePath} does not export a component (defineComponent(...) as the default export)`);
}

function looksLikeComponent(value: unknown): value is ComponentDefinition {
  if (typeof value !== "object" || value === null) return false;
  const v = value as Record<string, unknown>;
  return (
    typeof v["name"] === "string" &&
    typeof v["handle"] === "function" &&
    typeof v["concurrency"] === "number" &&
    typeof v["version"] === "string" &&
    typeof v["retry"] === "object"
  );
}
