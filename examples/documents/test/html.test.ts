import { describe, expect, it } from "vitest";
import { htmlToText } from "../src/formats/html.js";

describe("htmlToText", () => {
  it("keeps the visible text and drops script, style and noscript", async () => {
    const { text } = await htmlToText(
      "<html><head><style>p { color: red }</style><script>track('head')</script></head>" +
        "<body><p>Visible words.</p><script type=module>import x from 'y'; track('body')</script><noscript>Enable JavaScript</noscript></body></html>",
    );
    expect(text).toBe("Visible words.");
  });

  it("keeps link words but not URLs, decodes entities and does not shout headings", async () => {
    const { text } = await htmlToText(
      '<h2>Fish &amp; chips</h2><p>See <a href="https://example.invalid/menu">the menu</a> &lt;today&gt;.</p>',
    );
    expect(text).toBe("Fish & chips\n\nSee the menu <today>.");
  });

  it("keeps code blocks verbatim and list items without markup bullets", async () => {
    const { text } = await htmlToText("<ul><li>one</li><li>two</li></ul><pre>if (a) {\n  b();\n}</pre>");
    expect(text).toContain("• one\n• two");
    expect(text).toContain("if (a) {\n  b();\n}");
  });

  it("takes the title from <title>, else from the first <h1>, else none", async () => {
    expect((await htmlToText("<title> The  page </title><h1>Heading</h1>")).title).toBe("The page");
    expect((await htmlToText("<h1>First</h1><h1>Second</h1>")).title).toBe("First");
    expect(await htmlToText("<p>no title</p>")).toEqual({ text: "no title" });
  });

  it("collapses runs of blank lines into one paragraph break", async () => {
    expect((await htmlToText("<p>a</p><br><br><br><br><p>b</p>")).text).toBe("a\n\nb");
  });
});
