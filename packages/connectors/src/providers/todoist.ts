import { Type, type Static } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import { ConnectorError, ConnectorErrorCode } from "../errors.js";
import type { ApiContext, ProviderApi, ProviderDefinition, RevokeContext, SignalPage } from "../provider.js";
import type { ActionResult, ConnectorAction, ProviderConfig, TokenSet } from "../schemas.js";

/**
 * Todoist's endpoints (API v1). Todoist's OAuth is plain OAuth 2.0 with its own bends: scopes joined by
 * commas, access tokens that do not expire and no refresh tokens, and revocation by its own call rather than
 * RFC 7009. It does not document PKCE; the challenge is sent anyway (a server that does not know it ignores
 * it) so that nothing in the flow depends on the provider.
 */
export const TODOIST_ENDPOINTS = {
  authorizationEndpoint: "https://todoist.com/oauth/authorize",
  tokenEndpoint: "https://todoist.com/oauth/access_token",
  /** Sync, tasks and token revocation live under it. */
  apiBase: "https://api.todoist.com/api/v1/",
} as const;

export interface TodoistOptions {
  /** Tests point these at local servers. */
  endpoints?: Partial<Record<keyof typeof TODOIST_ENDPOINTS, string>>;
  /** Default: data:read_write (read tasks, complete them). */
  scopes?: string[];
}

const Item = Type.Object({
  id: Type.String(),
  content: Type.Optional(Type.String()),
  project_id: Type.Optional(Type.Union([Type.String(), Type.Null()])),
  checked: Type.Optional(Type.Boolean()),
  is_deleted: Type.Optional(Type.Boolean()),
  updated_at: Type.Optional(Type.Union([Type.String(), Type.Null()])),
  completed_at: Type.Optional(Type.Union([Type.String(), Type.Null()])),
  added_at: Type.Optional(Type.Union([Type.String(), Type.Null()])),
});
/** The part of a sync answer read here; other members are ignored. */
const SyncResponse = Type.Object({
  sync_token: Type.String({ minLength: 1 }),
  full_sync: Type.Optional(Type.Boolean()),
  items: Type.Optional(Type.Array(Item)),
});
type TodoistItem = Static<typeof Item>;

async function failed(res: Response, what: string): Promise<ConnectorError> {
  await res.body?.cancel();
  return new ConnectorError(ConnectorErrorCode.ProviderError, `todoist ${what}: HTTP ${res.status}`, {
    provider: "todoist",
    status: res.status,
  });
}

function eventOf(item: TodoistItem): SignalPage["events"][number] {
  const kind = item.is_deleted === true ? "task.deleted" : item.checked === true ? "task.completed" : "task.upserted";
  const occurredAt = item.updated_at ?? item.completed_at ?? item.added_at ?? new Date().toISOString();
  return {
    kind,
    sourceId: item.id,
    occurredAt: new Date(occurredAt).toISOString(),
    ...(item.content !== undefined ? { title: item.content } : {}),
    data: { projectId: item.project_id ?? null, checked: item.checked === true },
  };
}

function todoistApi(apiBase: string): ProviderApi {
  const url = (path: string) => new URL(path, apiBase).href;
  return {
    /**
     * Incremental sync: `sync_token` "*" is a full sync, and each answer's `sync_token` resumes after it. One
     * answer holds every change since the token, so one call is one page.
     */
    async *sync(ctx: ApiContext, cursor: string | undefined) {
      const res = await ctx.fetch(url("sync"), {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ sync_token: cursor ?? "*", resource_types: '["items"]' }).toString(),
      });
      if (res.status !== 200) throw await failed(res, "sync");
      const body: unknown = await res.json();
      if (!Value.Check(SyncResponse, body))
        throw new ConnectorError(ConnectorErrorCode.ProviderError, "todoist sync: unexpected answer", {
          provider: "todoist",
        });
      yield { events: (body.items ?? []).map(eventOf), cursor: body.sync_token };
    },

    async act(ctx: ApiContext, action: ConnectorAction): Promise<ActionResult> {
      if (action.kind !== "complete_task")
        throw new ConnectorError(ConnectorErrorCode.UnsupportedAction, `todoist has no action ${action.kind}`, {
          provider: "todoist",
        });
      // Closing a closed task is not an error at Todoist, so repeating the request (a retry) is safe.
      const res = await ctx.fetch(url(`tasks/${encodeURIComponent(action.target)}/close`), { method: "POST" });
      if (res.status === 404)
        throw new ConnectorError(ConnectorErrorCode.UnsupportedAction, `todoist has no task ${action.target}`, {
          provider: "todoist",
          status: 404,
        });
      if (res.status !== 204 && res.status !== 200) throw await failed(res, "complete_task");
      await res.body?.cancel();
      return { kind: action.kind, target: action.target, changed: true };
    },

    /** Todoist's own revocation: the app's credentials and the token, as JSON. */
    async revokeToken(ctx: RevokeContext, tokens: TokenSet) {
      const res = await ctx.http.fetch(url("access_tokens/revoke"), {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          client_id: ctx.client.clientId,
          client_secret: ctx.client.clientSecret,
          access_token: tokens.accessToken,
        }),
      });
      if (res.status !== 204 && res.status !== 200) throw await failed(res, "revoke");
      await res.body?.cancel();
    },
  };
}

/** The Todoist provider: OAuth settings and its API (sync by `sync_token`, complete a task, revoke). */
export function todoistProvider(options: TodoistOptions = {}): ProviderDefinition {
  const endpoints = { ...TODOIST_ENDPOINTS, ...options.endpoints };
  const config: ProviderConfig = {
    id: "todoist",
    authorizationEndpoint: endpoints.authorizationEndpoint,
    tokenEndpoint: endpoints.tokenEndpoint,
    scopes: options.scopes ?? ["data:read_write"],
    clientAuth: "client_secret_post",
    quirks: { scopeSeparator: "," },
  };
  return { config, api: todoistApi(endpoints.apiBase) };
}
