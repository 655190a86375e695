export {
  COMPONENT_CRD_NAME,
  COMPONENT_GROUP,
  COMPONENT_KIND,
  COMPONENT_PLURAL,
  COMPONENT_PRINTER_COLUMNS,
  COMPONENT_VERSION,
  CRD_MAX_ALLOWLIST_CIDRS,
  MIN_KUBERNETES_VERSION,
  componentCrd,
  componentCrdYaml,
  componentOpenApiSchema,
  componentSpecCelRules,
  componentSpecStructuralSchema,
  type ComponentCustomResourceDefinition,
} from "./component-crd.js";
export {
  StructuralSchemaError,
  toStructuralSchema,
  type CelValidationRule,
  type StructuralSchema,
  type StructuralType,
} from "./structural-schema.js";
