import { ConnectorError, ConnectorErrorCode } from "@tessera/connectors/storage";
import type { ConnectionService } from "@tessera/connectors";
import type { Coordinator } from "../../types.js";
import { ApiError } from "../api-error.js";

/** The coordinator's connection service, or the 404 saying that none is configured. */
export function connectionsOf(coordinator: Coordinator): ConnectionService {
  const service = coordinator.connections;
  if (service === undefined)
    throw new ApiError(
      404,
      "not_found",
      "this coordinator has no connectors configured (createCoordinator({ connectors }), see docs/connectors.md)",
      { reason: "connectors_not_configured" },
    );
  return service;
}

/**
 * A ConnectorError as the API answers it, its stable code as the `reason`; anything else as it is. The
 * messages name providers, users and error codes only (the connectors never put a token in one).
 */
export function toConnectionApiError(err: unknown): unknown {
  if (!(err instanceof ConnectorError)) return err;
  const reason = { reason: err.code };
  switch (err.code) {
    case ConnectorErrorCode.UnknownProvider:
    case ConnectorErrorCode.NotConnected:
      return new ApiError(404, "not_found", err.message, reason);
    case ConnectorErrorCode.NeedsReauth:
      return new ApiError(409, "conflict", err.message, reason);
    case ConnectorErrorCode.InvalidState:
    case ConnectorErrorCode.AuthorizationDenied:
    case ConnectorErrorCode.UnsupportedAction:
      return new ApiError(400, "invalid_request", err.message, reason);
    case ConnectorErrorCode.ProviderUnavailable: {
      const after = err.details.retryAfterMs;
      const retry = after === undefined ? "" : `; retry in ${Math.ceil(after / 1000)} s`;
      return new ApiError(503, "unavailable", `${err.message}${retry}`, reason);
    }
    case ConnectorErrorCode.ProviderError:
      return new ApiError(502, "bad_gateway", err.message, reason);
    case ConnectorErrorCode.Vault:
      return new ApiError(500, "internal", err.message, reason);
  }
}

/** Runs a connection-service call, answering its errors as the API's. */
export async function connectionCall<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    throw toConnectionApiError(err);
  }
}
