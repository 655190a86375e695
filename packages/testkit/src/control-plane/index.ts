export { startControlPlane, type ControlPlane, type ControlPlaneOptions, type Kubeconfig } from "./control-plane.js";
export { clusterBinaries, clusterBinDir, type ClusterBinaries } from "./binaries.js";
export { kubeRequest, type KubeCredentials, type KubeResponse } from "./kube-http.js";
