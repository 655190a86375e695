import { describe, expect, it } from "vitest";
import { markdownToText } from "../src/formats/markdown.js";

describe("markdownToText", () => {
  it("drops the syntax of headings, emphasis and links but keeps their words", async () => {
    const { text, title } = await markdownToText(
      "# The *big* title\n\nSome **bold**, _em_ and [linked words](https://example.invalid).\n\n## Next\n\n> quoted",
    );
    expect(title).toBe("The big title");
    expect(text).toBe("The big title\n\nSome bold, em and linked words.\n\nNext\n\nquoted");
  });

  it("keeps code blocks and inline code as code, with entities decoded", async () => {
    const { text } = await markdownToText("Use `a < b` here.\n\n```ts\nif (a < b && c) {\n  go();\n}\n```\n");
    expect(text).toBe("Use a < b here.\n\nif (a < b && c) {\n  go();\n}");
  });

  it("turns lists and tables into plain lines", async () => {
    const { text } = await markdownToText("- first\n- [second](u)\n\n| k | v |\n|---|---|\n| a | 1 |\n");
    expect(text).toContain("• first\n• second");
    expect(text).not.toMatch(/[|#*_`[\]]/);
    expect(text).toMatch(/a\s+1/);
  });

  it("drops raw HTML scripts embedded in the Markdown", async () => {
    expect((await markdownToText("Hello\n\n<script>alert('x')</script>\n\nworld")).text).toBe("Hello\n\nworld");
  });

  it("has no title without a level-1 heading", async () => {
    expect((await markdownToText("## Only a subheading")).title).toBeUndefined();
  });
});
