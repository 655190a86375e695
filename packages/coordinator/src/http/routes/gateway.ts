import type { FastifyPluginAsync } from "fastify";
import type { Coordinator } from "../../types.js";
import { notFound } from "../api-error.js";
import { auditTarget } from "../audit-hooks.js";
import { connectionCall } from "./connection-errors.js";
import {
  GatewayAccountListSchema,
  GatewayAccountParams,
  GatewayAccountSchema,
  GatewayHealthSchema,
  GatewayInstallSchema,
  GatewaySealedSchema,
  InstallGatewayAccountBody,
  GatewayTenantListSchema,
  ListGatewayAccountsQuery,
  PutGatewayAccountBody,
  RotateGatewayCredentialsBody,
  gatewayAccountId,
  ref,
  withErrors,
  type GatewayAccountList,
  type GatewayAccountView,
  type GatewayHealth,
  type GatewayInstall,
  type GatewaySealed,
  type GatewayTenantList,
} from "../schemas.js";

const TAGS = ["gateway"];
const describe = (p: GatewayAccountParams) => `no ${p.channelType} account ${p.tenant}/${p.account}`;

/** The gateway's control plane (docs/gateway.md#control-plane): tenants, accounts, credentials, health. */
export const gatewayRoutes: FastifyPluginAsync<{ coordinator: Coordinator }> = async (app, { coordinator }) => {
  const gateway = coordinator.gateway;

  app.get<{ Reply: GatewayTenantList }>(
    "/gateway/tenants",
    {
      schema: {
        summary: "Tenants: every tenant with a gateway account, with its account counts",
        tags: TAGS,
        response: { 200: ref(GatewayTenantListSchema) },
      },
    },
    async () => ({ items: await gateway.tenants() }),
  );

  app.get<{ Querystring: ListGatewayAccountsQuery; Reply: GatewayAccountList }>(
    "/gateway/accounts",
    {
      schema: {
        summary: "Gateway accounts (credential metadata only, never a secret), by tenant and channel type",
        tags: TAGS,
        querystring: ListGatewayAccountsQuery,
        response: { 200: ref(GatewayAccountListSchema) },
      },
    },
    async (request) => ({ items: await gateway.list(request.query) }),
  );

  app.get<{ Params: GatewayAccountParams; Reply: GatewayAccountView }>(
    "/gateway/accounts/:channelType/:tenant/:account",
    {
      schema: {
        summary: "One gateway account and its webhook URL",
        tags: TAGS,
        params: GatewayAccountParams,
        response: withErrors({ 200: ref(GatewayAccountSchema) }, 404),
      },
    },
    async (request) => {
      const found = await gateway.get(request.params);
      if (found === undefined) throw notFound(describe(request.params));
      return found;
    },
  );

  app.put<{ Params: GatewayAccountParams; Body: PutGatewayAccountBody; Reply: GatewayAccountView }>(
    "/gateway/accounts/:channelType/:tenant/:account",
    {
      config: { mutating: true, audit: "gateway.account.put" },
      schema: {
        summary: "Install an account, or change it: disable / enable, its own rate limit, its settings",
        tags: TAGS,
        params: GatewayAccountParams,
        body: PutGatewayAccountBody,
        response: { 200: ref(GatewayAccountSchema) },
      },
    },
    async (request) => {
      const p = request.params;
      auditTarget(request, gatewayAccountId(p.channelType, p.tenant, p.account));
      return gateway.put(p, request.body);
    },
  );

  app.post<{ Params: GatewayAccountParams; Body: RotateGatewayCredentialsBody; Reply: GatewayAccountView }>(
    "/gateway/accounts/:channelType/:tenant/:account/credentials",
    {
      config: { mutating: true, audit: "gateway.account.rotate" },
      schema: {
        summary:
          "Set or rotate an account's credentials (sealed by the vault; answered as metadata). keepPrevious keeps the current signing secrets after the new ones while the platform switches",
        tags: TAGS,
        params: GatewayAccountParams,
        body: RotateGatewayCredentialsBody,
        response: withErrors({ 200: ref(GatewayAccountSchema) }, 404, 409),
      },
    },
    async (request) => {
      const p = request.params;
      auditTarget(request, gatewayAccountId(p.channelType, p.tenant, p.account));
      const rotated = await gateway.rotate(p, request.body);
      if (rotated === undefined) throw notFound(describe(p));
      return rotated;
    },
  );

  app.post<{ Params: GatewayAccountParams; Body: InstallGatewayAccountBody; Reply: GatewayInstall }>(
    "/gateway/accounts/:channelType/:tenant/:account/install",
    {
      config: { mutating: true, audit: "gateway.account.install" },
      schema: {
        summary:
          "Install an account through a connector's OAuth flow: answers the provider's consent URL; the callback (/oauth/callback) creates the account (if absent) with its token taken from the connection",
        tags: TAGS,
        params: GatewayAccountParams,
        body: InstallGatewayAccountBody,
        response: withErrors({ 200: ref(GatewayInstallSchema) }, 404, 503),
      },
    },
    async (request) => {
      const p = request.params;
      auditTarget(request, gatewayAccountId(p.channelType, p.tenant, p.account));
      return connectionCall(() => gateway.install(p, request.body.connector));
    },
  );

  app.delete<{ Params: GatewayAccountParams; Reply: { deleted: true } }>(
    "/gateway/accounts/:channelType/:tenant/:account",
    {
      config: { mutating: true, audit: "gateway.account.delete" },
      schema: {
        summary: "Uninstall an account: its webhooks are answered 404 and its credentials are gone",
        tags: TAGS,
        params: GatewayAccountParams,
        response: withErrors(
          { 200: { type: "object", properties: { deleted: { type: "boolean", const: true } }, required: ["deleted"] } },
          404,
        ),
      },
    },
    async (request) => {
      const p = request.params;
      auditTarget(request, gatewayAccountId(p.channelType, p.tenant, p.account));
      if (!(await gateway.remove(p))) throw notFound(describe(p));
      return { deleted: true as const };
    },
  );

  app.get<{ Params: GatewayAccountParams; Reply: GatewaySealed }>(
    "/gateway/accounts/:channelType/:tenant/:account/sealed",
    {
      schema: {
        summary:
          "The account's credentials as the vault sealed them, for a gateway process holding the vault key (404: none held)",
        tags: TAGS,
        params: GatewayAccountParams,
        response: withErrors({ 200: ref(GatewaySealedSchema) }, 404, 409, 502, 503),
      },
    },
    async (request) => {
      const sealed = await connectionCall(() => gateway.sealed(request.params));
      if (sealed === undefined) throw notFound(`${describe(request.params)} with credentials`);
      return sealed;
    },
  );

  app.get<{ Reply: GatewayHealth }>(
    "/gateway/health",
    {
      schema: {
        summary: "The gateway's streams: messages, bytes, last sequence and time, consumers, duplicate window",
        tags: TAGS,
        response: { 200: ref(GatewayHealthSchema) },
      },
    },
    async () => gateway.health(),
  );
};
