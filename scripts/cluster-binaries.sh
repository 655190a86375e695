#!/usr/bin/env bash
# Builds the real control plane the cluster test tier runs against (`npm run test:cluster`), from the Go module
# proxy, at pinned versions: etcd, kube-apiserver, kube-controller-manager, the KEDA operator (with its CRDs from
# the same module) and nats-server. Nothing is downloaded prebuilt: the machines reach the Go module proxy only.
#
# Each binary lands under a versioned folder of the user's cache dir and is built only when that folder is
# missing, so a second run takes seconds. A folder is moved into place only once complete, so an interrupted
# build is redone, never half-used. The result is printed one line per binary and written to manifest.json
# there, which @tessera/testkit's startControlPlane reads.
#
# Usage: scripts/cluster-binaries.sh [--print]   (--print: only print the manifest, build nothing)
# Env:   TESSERA_CLUSTER_BIN   cache folder (default ${XDG_CACHE_HOME:-$HOME/.cache}/tessera/cluster-bin)
#        GOCACHE, GOMODCACHE   honoured as usual (point them at empty folders to time a cold build)
set -euo pipefail

ETCD_VERSION=v3.5.36
# One minor >= 1.31 for both (the CRD's CEL rules use the CIDR library, usable in new expressions from 1.31). The
# proxy serves k8s.io/kubernetes at only some patches, and not every staging module at each: 1.31.14 lacks
# k8s.io/kube-scheduler, kube-controller-manager and endpointslice v0.31.14 (403 "not available"), which the
# controller-manager imports, and 1.32.13 lacks endpointslice v0.32.13. 1.33.13 has all that the two binaries import.
KUBERNETES_VERSION=v1.33.13
# The newest 2.1x KEDA: 2.17+ is not served here or needs a newer Go than the machines have (2.21.1 needs 1.27.4).
KEDA_VERSION=v2.16.1
NATS_VERSION=v2.15.3

CACHE=${TESSERA_CLUSTER_BIN:-${XDG_CACHE_HOME:-$HOME/.cache}/tessera/cluster-bin}
MANIFEST=$CACHE/manifest.json
# Go 1.26 is installed; a module's `toolchain` line must not make the go command fetch another Go.
export GOTOOLCHAIN=local
export GOFLAGS="-buildvcs=false"
BUILD_FLAGS=(-trimpath)
LDFLAGS_BASE="-s -w"

log() { echo "cluster-bin: $*" >&2; }
now() { date +%s; }

# Each entry: name version path-of-binary (relative to $CACHE).
ENTRIES=(
  "etcd $ETCD_VERSION etcd-$ETCD_VERSION/etcd"
  "kube-apiserver $KUBERNETES_VERSION kube-apiserver-$KUBERNETES_VERSION/kube-apiserver"
  "kube-controller-manager $KUBERNETES_VERSION kube-controller-manager-$KUBERNETES_VERSION/kube-controller-manager"
  "keda $KEDA_VERSION keda-$KEDA_VERSION/keda"
  "nats-server $NATS_VERSION nats-server-$NATS_VERSION/nats-server"
)

write_manifest() {
  local tmp=$MANIFEST.tmp.$$ first=1 name version rel
  {
    echo "{"
    echo "  \"go\": \"$(go env GOVERSION)\","
    echo "  \"binaries\": {"
    for e in "${ENTRIES[@]}"; do
      read -r name version rel <<<"$e"
      [ -x "$CACHE/$rel" ] || continue
      [ $first = 1 ] || echo ","
      first=0
      printf '    "%s": { "version": "%s", "path": "%s" }' "$name" "$version" "$CACHE/$rel"
    done
    echo
    echo "  },"
    echo "  \"kedaCrds\": \"$CACHE/keda-crds-$KEDA_VERSION\""
    echo "}"
  } >"$tmp"
  mv "$tmp" "$MANIFEST"
}

print_manifest() {
  local name version rel missing=0
  for e in "${ENTRIES[@]}"; do
    read -r name version rel <<<"$e"
    if [ -x "$CACHE/$rel" ]; then
      echo "cluster-bin $name $version $CACHE/$rel"
    else
      echo "cluster-bin $name $version MISSING"
      missing=1
    fi
  done
  echo "cluster-bin manifest $MANIFEST"
  return $missing
}

if [ "${1:-}" = "--print" ]; then
  print_manifest
  exit $?
fi

command -v go >/dev/null 2>&1 || { log "go is required (Go 1.26 is installed on these machines)"; exit 2; }
mkdir -p "$CACHE"
# Two runs at once (two worktrees, CI beside a developer) would build the same thing twice; the second waits.
exec 9>"$CACHE/.lock"
flock 9

WORK=$(mktemp -d "${TMPDIR:-/tmp}/tessera-cluster-bin.XXXXXX")
KEEP_WORK=0
# Module copies are read-only by design; make them deletable before removing the scratch folder. A failed
# build's folder is kept for its logs.
trap 'chmod -R u+w "$WORK" 2>/dev/null; [ "$KEEP_WORK" = 1 ] || rm -rf "$WORK"' EXIT

# The binary starts and answers the flag. pflag's --help prints the usage and exits 2, which counts here.
runs() {
  local out rc=0
  out=$("$1" "$2" 2>&1) || rc=$?
  echo "$out"
  [ $rc = 0 ] || { [ "$2" = --help ] && [[ "$out" == *Usage* ]]; }
}

# Builds the cache folder "$1" with the function "$2" unless it exists, then checks that "$3" (a path in it) is an
# executable that runs (with "$4", default --version). The function writes into a staging folder. (Bash ignores `set -e` inside a function
# called from a condition, so the functions chain their steps with && and the result is checked here.)
build_once() {
  local dest=$CACHE/$1 fn=$2 binary=$3 check=${4:---version} stage started
  if [ -x "$dest/$binary" ]; then
    log "$1: cached"
    return 0
  fi
  stage=$WORK/stage-$1
  rm -rf "$stage"
  mkdir -p "$stage"
  started=$(now)
  log "$1: building"
  if "$fn" "$stage" >"$WORK/$1.log" 2>&1 && [ -x "$stage/$binary" ] && runs "$stage/$binary" "$check" >>"$WORK/$1.log" 2>&1; then
    rm -rf "$dest" "$dest.partial"
    mv "$stage" "$dest.partial"
    mv "$dest.partial" "$dest"
    log "$1: built in $(($(now) - started)) s"
  else
    log "$1: FAILED after $(($(now) - started)) s; last lines of its log (all of it: $WORK/$1.log, kept):"
    grep -v '^go: downloading' "$WORK/$1.log" | tail -n 30 >&2
    KEEP_WORK=1
    FAILED+=("$1")
  fi
}

# A scratch module that requires the wanted module and builds its main package. Used where the module's own
# go.mod has replace directives pointing into its repository (etcd's server and Kubernetes): replace directives
# apply only in the main module, so here every dependency resolves to its published version instead.
scratch_module() {
  local dir=$1 go_version=$2
  mkdir -p "$dir"
  printf 'module tessera.invalid/cluster-bin\n\ngo %s\n' "$go_version" >"$dir/go.mod"
}

build_etcd() {
  local out=$1 dir=$WORK/etcd
  scratch_module "$dir" 1.26.0 &&
    (cd "$dir" && go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION" &&
      go build "${BUILD_FLAGS[@]}" -ldflags "$LDFLAGS_BASE" -o "$out/etcd" go.etcd.io/etcd/server/v3)
}

# kube-apiserver and kube-controller-manager come from one build so they share compiled packages.
build_kubernetes() {
  local out=$1 dir=$WORK/kubernetes gomod minor staging m v ldflags
  gomod=$(go mod download -json "k8s.io/kubernetes@$KUBERNETES_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
  [ -n "$gomod" ] || { echo "no go.mod for k8s.io/kubernetes@$KUBERNETES_VERSION"; return 1; }
  scratch_module "$dir" "$(sed -n 's/^go //p' "$gomod")" || return 1
  # Kubernetes' go.mod sets GODEBUG defaults for its binaries; keep them.
  grep '^godebug ' "$gomod" >>"$dir/go.mod"
  minor=${KUBERNETES_VERSION#v1.}
  minor=${minor%%.*}
  v=v0.${KUBERNETES_VERSION#v1.}
  echo "require k8s.io/kubernetes $KUBERNETES_VERSION" >>"$dir/go.mod"
  # Every staging module (replaced by ./staging/src/k8s.io/X upstream) is published as k8s.io/X v0.<minor>.<patch>.
  # Kubernetes requires some that neither binary imports (code-generator, sample-apiserver); one the proxy does
  # not serve at this version gets an empty local stand-in, which only the module graph sees (a binary that
  # imported it would fail to build, loudly).
  staging=$(sed -n 's|^\s*\(k8s.io/[a-z0-9-]*\) => ./staging/src/.*|\1|p' "$gomod")
  echo "replace (" >>"$dir/go.mod"
  for m in $staging; do
    if go list -m "$m@$v" >/dev/null 2>&1; then
      echo "	$m => $m $v" >>"$dir/go.mod"
    else
      echo "$m $v is not served: an empty stand-in module"
      mkdir -p "$dir/stub/$m"
      printf 'module %s\n\ngo 1.24\n' "$m" >"$dir/stub/$m/go.mod"
      echo "	$m => ./stub/$m" >>"$dir/go.mod"
    fi
  done
  echo ")" >>"$dir/go.mod"
  ldflags="$LDFLAGS_BASE"
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $pkg.gitVersion=$KUBERNETES_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
    ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
  done
  (cd "$dir" &&
    go get "k8s.io/kubernetes/cmd/kube-apiserver@$KUBERNETES_VERSION" \
      "k8s.io/kubernetes/cmd/kube-controller-manager@$KUBERNETES_VERSION" &&
    go build "${BUILD_FLAGS[@]}" -ldflags "$ldflags" -o "$out/" \
      k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager)
}

# Builds both Kubernetes binaries once per run, for whichever of the two is missing first; a failure is not
# retried for the second.
kubernetes_once() {
  local out=$WORK/kubernetes-out
  [ -e "$out/.failed" ] && { echo "the Kubernetes build failed earlier in this run"; return 1; }
  [ -x "$out/kube-apiserver" ] && return 0
  mkdir -p "$out"
  build_kubernetes "$out" || { touch "$out/.failed"; return 1; }
}

build_kube_apiserver() {
  kubernetes_once && cp "$WORK/kubernetes-out/kube-apiserver" "$1/"
}

build_kube_controller_manager() {
  kubernetes_once && cp "$WORK/kubernetes-out/kube-controller-manager" "$1/"
}

# KEDA's go.mod pins dependencies with replace directives, which hold only when KEDA is the main module: build
# inside a writable copy of its downloaded module.
# Its module zip keeps vendor/modules.txt but not the vendored code, so -mod=mod (go.sum is in the zip).
build_keda() {
  local out=$1 src dir=$WORK/keda
  src=$(go mod download -json "github.com/kedacore/keda/v2@$KEDA_VERSION" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
  [ -n "$src" ] || { echo "KEDA $KEDA_VERSION could not be downloaded"; return 1; }
  cp -r "$src" "$dir" && chmod -R u+w "$dir" &&
    (cd "$dir" && go build -mod=mod "${BUILD_FLAGS[@]}" \
      -ldflags "$LDFLAGS_BASE -X github.com/kedacore/keda/v2/version.Version=${KEDA_VERSION#v}" \
      -o "$out/keda" ./cmd/operator)
}

# KEDA's CRDs from the same module as the operator, cached apart from it: a test that only writes ScaledObjects
# needs them and not the operator (a long build).
keda_crds_once() {
  local dest=$CACHE/keda-crds-$KEDA_VERSION src
  if ls "$dest"/*.yaml >/dev/null 2>&1; then
    log "keda-crds-$KEDA_VERSION: cached"
    return 0
  fi
  src=$(go mod download -json "github.com/kedacore/keda/v2@$KEDA_VERSION" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
  if [ -n "$src" ] && mkdir -p "$WORK/keda-crds" && cp "$src"/config/crd/bases/*.yaml "$WORK/keda-crds/"; then
    rm -rf "$dest"
    mv "$WORK/keda-crds" "$dest"
    log "keda-crds-$KEDA_VERSION: copied from the module"
  else
    log "keda-crds-$KEDA_VERSION: FAILED (KEDA $KEDA_VERSION could not be downloaded)"
    FAILED+=("keda-crds-$KEDA_VERSION")
  fi
}

build_nats() {
  local out=$1
  # Its go.mod has no replace directives, so a plain install works; the go command names the binary nats-server.
  GOBIN=$out go install "${BUILD_FLAGS[@]}" -ldflags "$LDFLAGS_BASE" "github.com/nats-io/nats-server/v2@$NATS_VERSION"
}

FAILED=()
started_all=$(now)
keda_crds_once
build_once "etcd-$ETCD_VERSION" build_etcd etcd
build_once "nats-server-$NATS_VERSION" build_nats nats-server
build_once "kube-apiserver-$KUBERNETES_VERSION" build_kube_apiserver kube-apiserver
build_once "kube-controller-manager-$KUBERNETES_VERSION" build_kube_controller_manager kube-controller-manager
# The operator has no --version; --help shows that it starts and parses its flags.
build_once "keda-$KEDA_VERSION" build_keda keda --help
write_manifest
log "done in $(($(now) - started_all)) s ($(go env GOVERSION))"
print_manifest || true
if [ ${#FAILED[@]} -gt 0 ]; then
  log "failed: ${FAILED[*]}"
  exit 1
fi
