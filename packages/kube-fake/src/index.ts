export { startFakeKubeApi, parseLabelSelector } from "./server.js";
export type { FakeKubeApi, FakeKubeApiOptions, FailureSpec, KubeConfigOptions, RequestVerb } from "./server.js";
export { FakeStore, ApiError } from "./store.js";
export type { KubeObject, ObjectRef, StoreEvent, StoreOptions, Verb, WriteRecord, WatchEventType } from "./store.js";
export { BUILTIN_RESOURCES, apiVersionOf, defaultDeployment, defsFromCrd } from "./resources.js";
export type { ResourceDef } from "./resources.js";
export { applyMerge, mergePatch, jsonPatch, leafPaths, deepEqual } from "./fields.js";
export type { Json, JsonObject } from "./fields.js";
