/**
 * The "restricted" Pod Security Standard (Kubernetes docs, Pod Security Standards), checked on a pod
 * spec: what the API server's admission would refuse in a namespace labelled
 * `pod-security.kubernetes.io/enforce: restricted`. Returns one line per violation.
 */
export function restrictedPodSecurityViolations(
  podSpec: Record<string, unknown>,
  path = "spec.template.spec",
): string[] {
  const out: string[] = [];
  const pod = (podSpec["securityContext"] ?? {}) as Record<string, unknown>;
  for (const host of ["hostNetwork", "hostPID", "hostIPC"])
    if (podSpec[host] === true) out.push(`${path}.${host}: must not be true`);
  const allowedVolumes = new Set([
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
  ]);
  for (const [i, volume] of ((podSpec["volumes"] ?? []) as Record<string, unknown>[]).entries()) {
    const kinds = Object.keys(volume).filter((k) => k !== "name");
    for (const kind of kinds)
      if (!allowedVolumes.has(kind))
        out.push(
          `${path}.volumes[${i}].${kind}: volume type not allowed (restricted allows ${[...allowedVolumes].join(", ")})`,
        );
  }
  const podSeccomp = (pod["seccompProfile"] as { type?: string } | undefined)?.type;
  const containers = [
    ...((podSpec["containers"] ?? []) as Record<string, unknown>[]).map(
      (c, i) => [c, `${path}.containers[${i}]`] as const,
    ),
    ...((podSpec["initContainers"] ?? []) as Record<string, unknown>[]).map(
      (c, i) => [c, `${path}.initContainers[${i}]`] as const,
    ),
  ];
  for (const [container, at] of containers) {
    const sc = (container["securityContext"] ?? {}) as Record<string, unknown>;
    if (sc["privileged"] === true) out.push(`${at}.securityContext.privileged: must not be true`);
    if (sc["allowPrivilegeEscalation"] !== false)
      out.push(`${at}.securityContext.allowPrivilegeEscalation: must be false`);
    const runAsNonRoot = sc["runAsNonRoot"] ?? pod["runAsNonRoot"];
    if (runAsNonRoot !== true)
      out.push(`${at}.securityContext.runAsNonRoot: must be true (on the container or the pod)`);
    const runAsUser = sc["runAsUser"] ?? pod["runAsUser"];
    if (runAsUser === 0) out.push(`${at}.securityContext.runAsUser: must not be 0`);
    const seccomp = (sc["seccompProfile"] as { type?: string } | undefined)?.type ?? podSeccomp;
    if (seccomp !== "RuntimeDefault" && seccomp !== "Localhost")
      out.push(`${at}.securityContext.seccompProfile.type: must be RuntimeDefault or Localhost`);
    const caps = (sc["capabilities"] ?? {}) as { drop?: string[]; add?: string[] };
    if (!(caps.drop ?? []).includes("ALL")) out.push(`${at}.securityContext.capabilities.drop: must include ALL`);
    for (const cap of caps.add ?? [])
      if (cap !== "NET_BIND_SERVICE")
        out.push(`${at}.securityContext.capabilities.add: ${cap} is not allowed (only NET_BIND_SERVICE)`);
  }
  return out;
}
