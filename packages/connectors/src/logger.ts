/**
 * The little of a logger the connectors use (pino's shape). What they log: provider, user, error codes and
 * states; never a token, a code, a verifier or a response body.
 */
export interface ConnectorLogger {
  info(obj: Record<string, unknown>, msg: string): void;
  warn(obj: Record<string, unknown>, msg: string): void;
}

export const SILENT: ConnectorLogger = { info: () => undefined, warn: () => undefined };
