import { clipText } from "../clip-text.js";
import type { AuditRecord } from "../types.js";

/** Bounds what one entry can hold, whatever a client sent (a user agent, an error message). */
const MAX_TEXT = 1_024;

const clip = (text: string): string => clipText(text, MAX_TEXT).replaceAll("\u0000", "");

/** An audit record as every audit log keeps it: the texts a client chose cut to 1 KiB and rid of NUL characters. */
export function clipAuditRecord(entry: AuditRecord): AuditRecord {
  return {
    ...entry,
    target: clip(entry.target),
    actor: {
      ...entry.actor,
      remoteAddress: clip(entry.actor.remoteAddress),
      userAgent: entry.actor.userAgent === null ? null : clip(entry.actor.userAgent),
    },
    detail: entry.detail === null ? null : clip(entry.detail),
  };
}
