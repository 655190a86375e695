/**
 * The security settings every pod Tessera renders gets, workers and the controller alike: the restricted
 * Pod Security Standard, plus a read-only root filesystem.
 */
export function restrictedPodSecurityContext(uid: number): {
  runAsNonRoot: true;
  runAsUser: number;
  runAsGroup: number;
  fsGroup: number;
  seccompProfile: { type: "RuntimeDefault" };
} {
  return {
    runAsNonRoot: true,
    runAsUser: uid,
    runAsGroup: uid,
    fsGroup: uid,
    seccompProfile: { type: "RuntimeDefault" },
  };
}

export function restrictedContainerSecurityContext(): {
  runAsNonRoot: true;
  readOnlyRootFilesystem: true;
  allowPrivilegeEscalation: false;
  capabilities: { drop: ["ALL"] };
} {
  return {
    runAsNonRoot: true,
    readOnlyRootFilesystem: true,
    allowPrivilegeEscalation: false,
    capabilities: { drop: ["ALL"] },
  };
}
