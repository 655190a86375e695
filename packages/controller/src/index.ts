/**
 * Kubernetes mode: the Component CRD, the pure renderers and (to come) the controller.
 */
export {};
