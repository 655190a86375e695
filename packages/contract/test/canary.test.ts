import { describe, expect, it } from "vitest";
import {
  REVISION_ENV,
  abortedSpec,
  canaryEffectiveSpec,
  canaryInstancePrefix,
  canaryWorkloadName,
  componentNameProblem,
  promotedSpec,
  revisionFromEnv,
  revisionOfInstance,
  validateComponentSpec,
  type ComponentSpec,
} from "../src/index.js";

const spec: ComponentSpec = {
  image: "x:1",
  inputMode: "content-ref",
  egress: "none",
  config: { MODE: "fast", LEVEL: "1" },
  canary: { image: "x:2", config: { MODE: "careful", NEW: "yes" }, weight: 10 },
};

describe("spec.canary", () => {
  it("runs the canary's image with its config merged over the component's; promote keeps that, abort drops it", () => {
    const { canary: _c, ...rest } = spec;
    expect(canaryEffectiveSpec(spec)).toEqual({
      ...rest,
      image: "x:2",
      config: { MODE: "careful", LEVEL: "1", NEW: "yes" },
    });
    expect(promotedSpec(spec)).toEqual(canaryEffectiveSpec(spec));
    expect(abortedSpec(spec)).toEqual(rest);
    expect(canaryEffectiveSpec(rest)).toBeUndefined();
    expect(promotedSpec(rest)).toEqual(rest);
    // Config only: the image stays the component's.
    expect(canaryEffectiveSpec({ ...rest, canary: { config: { MODE: "b" }, weight: 5 } })?.image).toBe("x:1");
  });

  it("validates weight 1-99 and a canary that changes something, naming the field", () => {
    expect(validateComponentSpec(spec).ok).toBe(true);
    for (const weight of [0, 100, 2.5]) {
      const r = validateComponentSpec({ ...spec, canary: { image: "x:2", weight } });
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.error.message).toContain("canary.weight");
    }
    const same = validateComponentSpec({ ...spec, canary: { image: "x:1", weight: 10 } });
    expect(same.ok).toBe(false);
    if (!same.ok) expect(same.error.message).toMatch(/canary: expected an image different from the component's image/);
    const unknown = validateComponentSpec({ ...spec, canary: { image: "x:2", weight: 10, replicas: 2 } });
    expect(unknown.ok).toBe(false);
  });

  it("names the canary's workload apart from every component, and tells its instances by their pod name", () => {
    expect(canaryWorkloadName("extract")).toBe("extract.canary");
    // No component can be named like a canary workload.
    expect(componentNameProblem(canaryWorkloadName("extract"))).toBeDefined();
    expect(canaryInstancePrefix("extract")).toBe("extract.canary-");
    expect(revisionOfInstance("extract", "extract.canary-7c9d8-x2k4p")).toBe("canary");
    expect(revisionOfInstance("extract", "extract-7c9d8-x2k4p")).toBe("stable");
    // Another component whose name starts the same is not a canary of this one.
    expect(revisionOfInstance("extract", "extract-canary-7c9d8-x2k4p")).toBe("stable");
    expect(revisionOfInstance("ext", "extract.canary-7c9d8-x2k4p")).toBe("stable");
    expect(revisionFromEnv({ [REVISION_ENV]: "canary" })).toBe("canary");
    expect(revisionFromEnv({})).toBe("stable");
  });
});
