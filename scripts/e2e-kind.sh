#!/usr/bin/env bash
# Opt-in end-to-end test on a real cluster: kind + Calico (so NetworkPolicies are enforced) + KEDA + NATS.
# NOT run in CI or by `npm test`: it needs Docker, kind, kubectl and helm, and pulls images and charts from
# the internet. It checks, on a real cluster, what the unit tests can only check on rendered objects:
#   1. the controller provisions the stream/consumer and the Deployment of a Component (Ready/StreamReady);
#   2. KEDA scales the component from 0 when jobs wait on its consumer, and back to 0 after the cooldown;
#   3. a worker with egress `none` gets its jobs over NATS but cannot reach 1.1.1.1.
# Usage: scripts/e2e-kind.sh            (KEEP=1 keeps the cluster; CLUSTER=name picks another name)
set -euo pipefail
cd "$(dirname "$0")/.."

CLUSTER=${CLUSTER:-tessera-e2e}
CALICO_VERSION=${CALICO_VERSION:-v3.29.1}
# The CRD's CEL rules use the CIDR library: Kubernetes >= 1.31.
KIND_NODE_IMAGE=${KIND_NODE_IMAGE:-kindest/node:v1.31.2}
OUT=$(mktemp -d)

need() { command -v "$1" >/dev/null 2>&1 || { echo "e2e: '$1' is required and not installed" >&2; exit 2; }; }
need docker; need kind; need kubectl; need helm; need node
step() { echo; echo "=== $*"; }
replicas() { kubectl -n e2e get deploy e2e-probe -o jsonpath='{.spec.replicas}'; }
# Waits up to 5 minutes for KEDA to set the probe's Deployment to 0 replicas; fails with "$1" otherwise.
wait_for_zero() {
  for _ in $(seq 1 60); do
    [ "$(replicas)" = "0" ] && return 0
    sleep 5
  done
  echo "e2e: the Deployment $1" >&2
  exit 1
}
cleanup() {
  [ -n "${PF_PID:-}" ] && kill "$PF_PID" 2>/dev/null || true
  if [ "${KEEP:-0}" != "1" ]; then kind delete cluster --name "$CLUSTER" >/dev/null 2>&1 || true; fi
  rm -rf "$OUT"
}
trap cleanup EXIT

step "kind cluster $CLUSTER ($KIND_NODE_IMAGE) without the default CNI"
kind create cluster --name "$CLUSTER" --image "$KIND_NODE_IMAGE" --config - <<YAML
kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
networking:
  disableDefaultCNI: true
  podSubnet: 192.168.0.0/16
YAML

step "Calico $CALICO_VERSION (enforces NetworkPolicy)"
kubectl apply --server-side -f "https://raw.githubusercontent.com/projectcalico/calico/${CALICO_VERSION}/manifests/calico.yaml"
kubectl -n kube-system rollout status ds/calico-node --timeout=300s

step "KEDA and NATS (JetStream, monitoring on 8222)"
helm repo add kedacore https://kedacore.github.io/charts >/dev/null
helm repo add nats https://nats-io.github.io/k8s/helm/charts/ >/dev/null
helm repo update >/dev/null
helm install keda kedacore/keda -n keda --create-namespace --wait --timeout 5m
helm install nats nats/nats -n nats --create-namespace --wait --timeout 5m \
  --set config.jetstream.enabled=true --set config.monitor.enabled=true

step "image tessera:e2e (controller and workers)"
docker build -t tessera:e2e -f deploy/Dockerfile .
kind load docker-image tessera:e2e --name "$CLUSTER"

step "install: render and validate offline, then apply"
node packages/cli/bin/tessera.js render e2e/kind/probe.yaml --install tessera:e2e --namespace e2e \
  --nats-url nats://nats.nats.svc:4222 --nats-monitoring nats.nats.svc:8222 --nats-namespace nats --validate -o "$OUT"
kubectl apply --server-side -f "$OUT/tessera-install.yaml"
kubectl wait crd/components.tessera.dev --for=condition=Established --timeout=60s
kubectl -n tessera-system rollout status deploy/tessera-controller --timeout=300s

step "a Component with egress none"
kubectl create namespace e2e
kubectl -n e2e apply -f e2e/kind/probe.yaml
kubectl -n e2e wait component/e2e-probe --for=condition=StreamReady --timeout=120s
kubectl -n e2e get component e2e-probe

step "scaled to zero while idle"
wait_for_zero "did not scale to zero"

step "jobs arrive: KEDA scales up, the worker runs them, the internet stays blocked"
kubectl -n nats port-forward svc/nats 14222:4222 >/dev/null 2>&1 & PF_PID=$!
sleep 3
node --conditions=@tessera/source --import tsx e2e/kind/submit-and-wait.ts nats://127.0.0.1:14222 e2e-probe 6
echo "replicas seen after the burst: $(kubectl -n e2e get deploy e2e-probe -o jsonpath='{.status.replicas}')"

step "back to zero after the cooldown"
wait_for_zero "did not scale back to zero"
echo; echo "e2e: passed"
