import { describe, expect, it } from "vitest";
import { childMetadata, componentLabels, ownerReference, selectorLabels } from "../../src/render/labels.js";

describe("labels", () => {
  it("labels pods and objects with the component, the app and the manager", () => {
    expect(componentLabels("extract")).toEqual({
      "app.kubernetes.io/name": "tessera-component",
      "app.kubernetes.io/component": "extract",
      "app.kubernetes.io/managed-by": "tessera",
      "tessera.dev/component": "extract",
    });
  });

  it("selects with a subset of the pod labels", () => {
    const pod = componentLabels("extract");
    const selector = selectorLabels("extract");
    expect(Object.keys(selector).length).toBeGreaterThan(0);
    for (const [k, v] of Object.entries(selector)) expect(pod[k]).toBe(v);
    expect(selector["tessera.dev/component"]).toBe("extract");
  });

  it("renders a controller ownerReference only when the uid is known", () => {
    expect(ownerReference({ name: "extract", namespace: "docs" })).toBeUndefined();
    expect(ownerReference({ name: "extract", namespace: "docs", uid: "" })).toBeUndefined();
    expect(ownerReference({ name: "extract", namespace: "docs", uid: "u-1" })).toEqual({
      apiVersion: "tessera.dev/v1alpha1",
      kind: "Component",
      name: "extract",
      uid: "u-1",
      controller: true,
      blockOwnerDeletion: true,
    });
    expect(childMetadata({ name: "extract", namespace: "docs" })).not.toHaveProperty("ownerReferences");
    expect(childMetadata({ name: "extract", namespace: "docs", uid: "u-1" }, "extract-egress")).toMatchObject({
      name: "extract-egress",
      namespace: "docs",
      ownerReferences: [{ uid: "u-1", controller: true }],
    });
  });
});
