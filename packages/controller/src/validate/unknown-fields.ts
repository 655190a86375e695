import * as k8s from "@kubernetes/client-node";

/**
 * Fields of an object that its Kubernetes type does not have. The schema validators (kubernetes-models)
 * accept unknown fields, as the API server's own pruning would silently drop them; a misspelled key in a
 * rendered manifest (`replicass`, `readOnlyRootFileSystem`) must fail instead. The field lists come from
 * @kubernetes/client-node's models, which are generated from the Kubernetes OpenAPI document.
 */
export function unknownKubernetesFields(value: unknown, typeName: string, path = ""): string[] {
  const list = /^Array<(.+)>$/.exec(typeName);
  if (list !== null)
    return Array.isArray(value)
      ? value.flatMap((v, i) => unknownKubernetesFields(v, list[1] as string, `${path}[${i}]`))
      : [];
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(typeName);
  if (map !== null) {
    return isObject(value)
      ? Object.entries(value).flatMap(([k, v]) => unknownKubernetesFields(v, map[1] as string, `${path}.${k}`))
      : [];
  }
  const model = (
    k8s as unknown as Record<
      string,
      { getAttributeTypeMap?: () => { name: string; baseName: string; type: string }[] } | undefined
    >
  )[typeName];
  if (model?.getAttributeTypeMap === undefined || !isObject(value)) return [];
  const attributes = new Map(model.getAttributeTypeMap().map((a) => [a.baseName, a.type]));
  return Object.entries(value).flatMap(([key, v]) => {
    const type = attributes.get(key);
    const at = path === "" ? key : `${path}.${key}`;
    return type === undefined ? [at] : unknownKubernetesFields(v, type, at);
  });
}

/** The client-node model of a built-in kind, e.g. apps/v1 Deployment → V1Deployment. */
export function kubernetesModelName(apiVersion: string, kind: string): string | undefined {
  const version = apiVersion.split("/").at(-1) ?? "";
  const name = `${version.charAt(0).toUpperCase()}${version.slice(1)}${kind}`;
  return name in k8s ? name : undefined;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
