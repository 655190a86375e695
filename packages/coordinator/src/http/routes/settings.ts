import type { FastifyPluginAsync } from "fastify";
import type { Coordinator, ResolvedSetting } from "../../types.js";
import { NameParams, PutSettingBody, ResolvedSettingSchema, ref, settingListResponse, withErrors } from "../schemas.js";

export const settingsRoutes: FastifyPluginAsync<{ coordinator: Coordinator }> = async (app, { coordinator }) => {
  app.get<{ Reply: { items: ResolvedSetting[] } }>(
    "/settings",
    {
      schema: {
        summary: "Every setting with the value in force and its source",
        tags: ["settings"],
        response: { 200: settingListResponse() },
      },
    },
    () => ({ items: coordinator.settings.list() }),
  );

  app.put<{ Params: NameParams; Body: PutSettingBody; Reply: ResolvedSetting }>(
    "/settings/:name",
    {
      config: { mutating: true, audit: "settings.put" },
      schema: {
        summary: "Write an operational or shared setting to the database (bootstrap settings are refused with 400)",
        tags: ["settings"],
        params: NameParams,
        body: PutSettingBody,
        response: withErrors({ 200: ref(ResolvedSettingSchema) }, 404),
      },
    },
    (request) => coordinator.settings.set(request.params.name, request.body.value),
  );
};
