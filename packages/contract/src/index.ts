/**
 * The Tessera bus contract: envelopes, their validation, reason codes and names. Everything else in
 * Tessera imports this package; it imports nothing of ours.
 *
 * ```ts
 * import { decodeJob, jobSubject } from "@tessera/contract";
 * const job = decodeJob(bytes);
 * if (!job.ok) console.error(job.error.message); // "invalid Job: limits.max_bytes: expected integer ..."
 * ```
 */
export { SCHEMA_VERSION, SUPPORTED_SCHEMA_VERSIONS, isSupportedSchemaVersion } from "./schema-version.js";
export {
  ContractValidationError,
  formatIssue,
  describeValue,
  pointerToPath,
  type ValidationIssue,
  type Validated,
} from "./validation-error.js";
export { JOB_ID_PATTERN } from "./common-schemas.js";
export {
  JobSchema,
  INPUT_MODES,
  MAX_METADATA_ENTRIES,
  validateJob,
  decodeJob,
  encodeJob,
  inputModeOf,
  type Job,
  type JobProblem,
  type JobInputValue,
  type ContentRefValue as ContentRef,
  type SourceLocatorValue as SourceLocator,
} from "./job.js";
export {
  ResultSchema,
  ResultStatus,
  INLINE_OUTPUT_MAX_BYTES,
  validateResult,
  decodeResult,
  encodeResult,
  type Result,
} from "./result.js";
export {
  HeartbeatSchema,
  HEARTBEAT_INTERVAL_MS,
  HEARTBEAT_STALE_AFTER_BEATS,
  validateHeartbeat,
  decodeHeartbeat,
  encodeHeartbeat,
  type Heartbeat,
} from "./heartbeat.js";
export {
  ReasonCode,
  REASON_CODE_MAX_BYTES,
  REASON_DETAIL_MAX_BYTES,
  reasonCodeProblem,
  isReasonCode,
  sanitizeReasonDetail,
  type PlatformReasonCode,
} from "./reason-code.js";
export {
  encodeNameToken,
  decodeNameToken,
  jobSubject,
  jobStreamName,
  durableConsumerName,
  resultSubject,
  resultsSubject,
  RESULTS_SUBJECT_ALL,
  RESULTS_STREAM,
  dlqSubject,
  DLQ_SUBJECT_ALL,
  DLQ_STREAM,
  heartbeatSubject,
  HEARTBEAT_SUBJECT_ALL,
  COORDINATOR_PROBE_SUBJECT,
  ADVISORY_STREAM,
  MAX_DELIVERIES_ADVISORY_SUBJECTS,
  PAYLOAD_BUCKET,
  COORDINATOR_RESULTS_CONSUMER,
  COORDINATOR_ADVISORIES_CONSUMER,
  componentOfJobStream,
} from "./naming.js";
export { DURATION_PATTERN, parseDuration } from "./duration.js";
export {
  ComponentSpecSchema,
  HandlerLimitsSchema,
  ComponentDefaults,
  EgressMode,
  InputMode,
  COMPONENT_NAME_PATTERN,
  componentNameProblem,
  componentSpecRuleIssues,
  validateComponentSpec,
  validateHandlerLimits,
  HANDLER_LIMITS_ENV,
  handlerLimitsEnv,
  busSettingsFromSpec,
  componentSpecJsonSchema,
  componentConfigClasses,
  secretRefEnvName,
  upperSnake,
  MATURITY_LEVELS,
  MaturitySchema,
  DEFAULT_MATURITY,
  type Maturity,
  type ComponentSpec,
  type ComponentBusSettings,
  type HandlerLimits,
  RBAC_VERBS,
  RbacRuleSchema,
  RbacSchema,
  type Rbac,
  type RbacRule,
} from "./component-spec.js";
export {
  JOB_MAX_ACK_PENDING,
  jobConsumerConfig,
  jobStreamConfig,
  type JobConsumerConfig,
  type JobStreamConfig,
} from "./jetstream-config.js";
export {
  DEFAULT_ENVIRONMENT,
  ENVIRONMENTS,
  ENVIRONMENT_VARIABLE,
  GuardRailError,
  enforceGuardRails,
  guardRailFindings,
  guardRailVerdict,
  parseEnvironment,
  type DeploymentFacts,
  type GuardRailFinding,
  type GuardRailRule,
  type TesseraEnvironment,
} from "./environment.js";
export { BUILD_INFO_METRIC, buildInfoLabels, type MetricName } from "./metric-names.js";
export {
  GATEWAY_SCHEMA_VERSION,
  GATEWAY_SUPPORTED_SCHEMA_VERSIONS,
  CHANNEL_TYPE_PATTERN,
  SCOPE_ID_PATTERN,
  MAX_ATTACHMENTS,
  MAX_ATTRIBUTES,
  MAX_TEXT_LENGTH,
  RELATION_TYPES,
  DELIVERY_STATUSES,
  MessageSchema,
  SendCommandSchema,
  DeliveryRecordSchema,
  validateMessage,
  decodeMessage,
  encodeMessage,
  validateSendCommand,
  decodeSendCommand,
  encodeSendCommand,
  validateDeliveryRecord,
  decodeDeliveryRecord,
  encodeDeliveryRecord,
  type Message,
  type MessageAttachmentValue as MessageAttachment,
  type MessageRelationValue as MessageRelation,
  type AccountScopeValue as AccountScope,
  type ConversationScopeValue as ConversationScope,
  type SendCommand,
  type DeliveryRecord,
} from "./gateway-message.js";
export {
  GATEWAY_STREAMS,
  GATEWAY_DURABLE_ROLES,
  inboundSubject,
  outboundSubject,
  gatewayDeadLetterSubject,
  deliverySubject,
  gatewaySubjectFilter,
  gatewayStreamName,
  gatewayDurableName,
  inboundDedupKey,
  type GatewaySubjectScope,
  type GatewayStreamKind,
  type GatewayDurableRole,
} from "./gateway-naming.js";
export {
  CONFIG_CLASSES,
  ConfigClassSchema,
  DEFAULT_CONFIG_CLASS,
  REDACTED,
  redactedValue,
  scrubSecrets,
  type ConfigClass,
} from "./config-class.js";
export { buildInfo, provenanceAnnotations, tesseraAnnotation, type BuildInfo } from "./build-info.js";
