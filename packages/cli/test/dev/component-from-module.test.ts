import { defineComponent } from "@tessera/worker";
import { describe, expect, it } from "vitest";
import { componentFromModule } from "../../src/dev/component-from-module.js";

const extract = defineComponent({ name: "extract", handle: () => undefined });
const ocr = defineComponent({ name: "ocr", handle: () => undefined });

describe("componentFromModule", () => {
  it("takes the default export, or else the one exported component", () => {
    expect(componentFromModule({ default: extract, ocr }, "a.ts")).toBe(extract);
    expect(componentFromModule({ extract, helper: () => 1 }, "a.ts")).toBe(extract);
  });

  it("names the module and says what to export when there is no component", () => {
    expect(() => componentFromModule({ default: { name: "x" } }, "src/x.ts")).toThrow(
      "module src/x.ts does not export a component (defineComponent(...) as the default export)",
    );
    expect(() => componentFromModule({}, "src/x.ts")).toThrow("does not export a component");
  });

  it("refuses to guess between several named components", () => {
    expect(() => componentFromModule({ extract, ocr }, "src/both.ts")).toThrow(
      "module src/both.ts exports 2 components (extract, ocr) and none as the default export; make the one to run the default export",
    );
  });
});
