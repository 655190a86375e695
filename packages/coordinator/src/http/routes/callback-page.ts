/*
 * The page a browser gets at the end of the OAuth callback: the provider redirected the user there, so
 * the answer is for a person, not a program. Pure: text in, HTML out, every text escaped.
 */

const ESCAPES: Readonly<Record<string, string>> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c] ?? c);
}

/** Nothing to load, nothing to run, never framed. */
export const CALLBACK_PAGE_CSP =
  "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

export interface CallbackPage {
  ok: boolean;
  title: string;
  /** What happened and what to do next. */
  detail: string;
  /** The dashboard's connections page, when this coordinator serves the dashboard. */
  dashboardHref?: string | undefined;
}

export function renderCallbackPage(page: CallbackPage): string {
  const colour = page.ok ? "#1a7f37" : "#b42318";
  const back =
    page.dashboardHref === undefined
      ? ""
      : `<p><a href="${escapeHtml(page.dashboardHref)}" data-testid="back-to-connections">Back to the connections</a></p>`;
  return [
    "<!doctype html>",
    '<html lang="en"><head><meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${escapeHtml(page.title)} · Tessera</title>`,
    "<style>body{font:15px/1.5 system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem;color:#1f2328}",
    `h1{font-size:1.3rem;color:${colour}}code{background:#f3f4f6;padding:0 .25rem;border-radius:3px}</style>`,
    "</head><body>",
    `<h1 data-testid="callback-title">${escapeHtml(page.title)}</h1>`,
    `<p data-testid="callback-detail">${escapeHtml(page.detail)}</p>`,
    back,
    "</body></html>",
    "",
  ].join("\n");
}
