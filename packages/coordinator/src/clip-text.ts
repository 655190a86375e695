/**
 * `text` cut to at most `max` characters, the cut marked with an ellipsis. A surrogate pair is never split:
 * half of one would be a lone surrogate, which neither JSON consumers nor Postgres take well.
 */
export function clipText(text: string, max: number): string {
  if (text.length <= max) return text;
  let end = Math.max(0, max - 1);
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end -= 1;
  return `${text.slice(0, end)}…`;
}
