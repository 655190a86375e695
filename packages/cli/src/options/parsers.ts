import { InvalidArgumentError } from "commander";
import { DURATION_PATTERN, RBAC_VERBS, parseDuration, type RbacRule } from "@tessera/contract";
import { JOB_STATES, type JobState } from "@tessera/client";

/*
 * Commander argument parsers. Throwing InvalidArgumentError makes commander print
 * "error: option '--limit <n>' argument 'x' is invalid. <our message>", which names the flag, and exit 2.
 */

export function positiveInteger(max: number): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < 1 || n > max) {
      throw new InvalidArgumentError(`Expected a whole number from 1 to ${max}.`);
    }
    return n;
  };
}

export function jobState(value: string): JobState {
  if (!(JOB_STATES as readonly string[]).includes(value))
    throw new InvalidArgumentError(`Expected one of ${JOB_STATES.join(", ")}.`);
  return value as JobState;
}

/** Repeatable `--meta k=v`: each use adds one entry. */
export function metadataEntry(value: string, previous: Record<string, string> | undefined): Record<string, string> {
  const eq = value.indexOf("=");
  if (eq <= 0) throw new InvalidArgumentError("Expected key=value with a non-empty key, e.g. --meta tenant=acme.");
  const key = value.slice(0, eq);
  if (previous !== undefined && key in previous) throw new InvalidArgumentError(`Key "${key}" is given twice.`);
  return { ...previous, [key]: value.slice(eq + 1) };
}

/** Repeatable string option (`--file a --file b`). */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

export function jsonValue(value: string): unknown {
  try {
    return JSON.parse(value);
  } catch (err) {
    throw new InvalidArgumentError(`Expected JSON, e.g. '{"text":"hello"}' (${(err as Error).message}).`);
  }
}

/** `--deadline`: an ISO-8601 time, or a duration from now ("30s", "5m", "1h30m"). Returns an ISO string. */
export function deadline(value: string): string {
  if (new RegExp(DURATION_PATTERN).test(value)) return new Date(Date.now() + parseDuration(value)).toISOString();
  const at = /^\d{4}-\d{2}-\d{2}T/.test(value) ? Date.parse(value) : Number.NaN;
  if (Number.isNaN(at))
    throw new InvalidArgumentError(
      "Expected an ISO-8601 time such as 2030-01-01T12:00:00Z or a duration from now such as 30s, 5m or 1h30m.",
    );
  return new Date(at).toISOString();
}

/**
 * Repeatable `--grant <resource>[.<group>]=<verb>[,<verb>]` (kubectl's resource.group form, e.g.
 * `configmaps=get,list` or `leases.coordination.k8s.io=get,update`): one rule of the Component grants ceiling.
 */
export function grantRule(value: string, previous: RbacRule[] | undefined): RbacRule[] {
  const eq = value.lastIndexOf("=");
  const target = value.slice(0, eq);
  const verbs = value.slice(eq + 1).split(",");
  const dot = target.indexOf(".");
  const resource = dot < 0 ? target : target.slice(0, dot);
  const group = dot < 0 ? "" : target.slice(dot + 1);
  if (eq <= 0 || resource === "" || value.includes("*"))
    throw new InvalidArgumentError(
      "Expected <resource>[.<group>]=<verb>[,<verb>] with no wildcard, e.g. configmaps=get,list or leases.coordination.k8s.io=get.",
    );
  const unknown = verbs.filter((v) => !(RBAC_VERBS as readonly string[]).includes(v));
  if (unknown.length > 0)
    throw new InvalidArgumentError(`Unknown verb ${JSON.stringify(unknown[0])}: expected ${RBAC_VERBS.join(", ")}.`);
  return [...(previous ?? []), { apiGroups: [group], resources: [resource], verbs: verbs as RbacRule["verbs"] }];
}

/** `--timeout 5m`: a duration ("30s", "5m", "1h30m") in milliseconds. */
export function durationMs(value: string): number {
  if (!new RegExp(DURATION_PATTERN).test(value))
    throw new InvalidArgumentError("Expected a duration such as 30s, 5m or 1h30m.");
  const ms = parseDuration(value);
  if (ms <= 0) throw new InvalidArgumentError("Expected a duration above zero.");
  return ms;
}
