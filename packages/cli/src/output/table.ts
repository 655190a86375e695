import Table from "cli-table3";
import type { Style } from "./style.js";

/** No box drawing: columns separated by two spaces, like kubectl, so the output also greps and cuts well. */
const CHARS = {
  top: "",
  "top-mid": "",
  "top-left": "",
  "top-right": "",
  bottom: "",
  "bottom-mid": "",
  "bottom-left": "",
  "bottom-right": "",
  left: "",
  "left-mid": "",
  mid: "",
  "mid-mid": "",
  right: "",
  "right-mid": "",
  middle: "  ",
};

/** Renders rows under an upper-case header; ends with a newline. */
export function renderTable(head: readonly string[], rows: readonly (readonly string[])[], style: Style): string {
  const table = new Table({
    head: head.map((h) => style.bold(h.toUpperCase())),
    chars: CHARS,
    style: { head: [], border: [], "padding-left": 0, "padding-right": 0 },
  });
  table.push(...rows.map((r) => [...r]));
  return `${table
    .toString()
    .split("\n")
    .map((line) => line.trimEnd())
    .join("\n")}\n`;
}
