#!/usr/bin/env bash
# Builds the Kubernetes control plane, etcd, kwok, kustomize and kubectl used by
# the integration tests, the demo and the benchmarks, from the Go module proxy at
# pinned versions, into a cache directory outside the repository keyed by those
# versions. A warm run only checks that the binaries exist and takes well under
# a second.
#
# Progress goes to stderr; the last line on stdout is the bin directory.
#
# Usage: scripts/build-k8s.sh [--print-dir]
#   --print-dir   print the bin directory the pinned versions live in and exit
#
# Environment: GITOPS_CACHE (default ~/.cache/gitops-backstage), GO (go binary).
set -euo pipefail

K8S_VERSION=v1.37.2
# The staging modules (k8s.io/api, k8s.io/client-go, ...) are published as v0.<minor>.<patch>.
K8S_STAGING_VERSION="v0.${K8S_VERSION#v1.}"
# k8s.io/kubernetes v1.37 is built against the etcd 3.7 client.
ETCD_VERSION=v3.7.3
KWOK_VERSION=v0.8.0
# v5.8.3 needs Go 1.27; v5.8.2 is the newest that builds with Go 1.26.
KUSTOMIZE_VERSION=v5.8.2

GITOPS_CACHE="${GITOPS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/gitops-backstage}"
BIN_DIR="$GITOPS_CACHE/k8s-$K8S_VERSION-etcd-$ETCD_VERSION-kwok-$KWOK_VERSION-kustomize-$KUSTOMIZE_VERSION/bin"

if [ "${1:-}" = "--print-dir" ]; then
  echo "$BIN_DIR"
  exit 0
fi

log() { echo "build-k8s: $*" >&2; }

K8S_BINARIES=(kube-apiserver kube-controller-manager kube-scheduler kubectl)
ALL_BINARIES=("${K8S_BINARIES[@]}" etcd kwok kustomize)

missing=()
for b in "${ALL_BINARIES[@]}"; do
  [ -x "$BIN_DIR/$b" ] || missing+=("$b")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "$BIN_DIR"
  exit 0
fi

go_minor() { "$1" env GOVERSION 2>/dev/null | sed -nE 's/^go1\.([0-9]+).*/\1/p'; }
GO="${GO:-}"
if [ -z "$GO" ]; then
  # The first Go that is new enough: PATH's, then the official install location.
  for candidate in "$(command -v go 2>/dev/null || true)" /usr/local/go/bin/go; do
    if [ -n "$candidate" ] && [ -x "$candidate" ] && [ "$(go_minor "$candidate")" -ge 26 ] 2>/dev/null; then
      GO="$candidate"
      break
    fi
  done
  if [ -z "$GO" ]; then
    echo "build-k8s: Go >= 1.26 is required to build the Kubernetes test binaries: install it from the Go downloads page into /usr/local/go (or set GO=/path/to/go), or point KUBEBUILDER_ASSETS / GITOPS_KUBE_APISERVER… at prebuilt binaries" >&2
    exit 1
  fi
elif [ "$(go_minor "$GO")" -lt 26 ] 2>/dev/null || [ -z "$(go_minor "$GO")" ]; then
  echo "build-k8s: GO=$GO is not Go >= 1.26, which Kubernetes $K8S_VERSION needs" >&2
  exit 1
fi

mkdir -p "$BIN_DIR"
work="$(mktemp -d "${TMPDIR:-/tmp}/gitops-build-k8s.XXXXXX")"
trap 'rm -rf "$work"' EXIT
export GOFLAGS=-mod=mod CGO_ENABLED=0 GOTOOLCHAIN=local
BUILD_FLAGS=(-trimpath '-ldflags=-s -w')
started=$SECONDS

need() { for b in "$@"; do [ -x "$BIN_DIR/$b" ] || return 0; done; return 1; }

if need "${K8S_BINARIES[@]}"; then
  log "resolving k8s.io/kubernetes $K8S_VERSION (staging modules at $K8S_STAGING_VERSION)"
  mod="$work/kubernetes"
  mkdir -p "$mod"
  gomod="$(cd "$work" && "$GO" mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/^\s*"GoMod": "\(.*\)",$/\1/p')"
  {
    echo "module gitops.local/build-kubernetes"
    echo
    echo "go 1.26.0"
    echo
    echo "require k8s.io/kubernetes $K8S_VERSION"
    echo
    echo "replace ("
    # Every staging module k8s.io/kubernetes replaces with ./staging/src/k8s.io/<name>
    # is published on its own: point the replace at that published tag.
    sed -n 's#^\s*\(k8s\.io/[a-z0-9.-]*\) => \./staging/src/.*#\t\1 => \1 '"$K8S_STAGING_VERSION"'#p' "$gomod"
    echo ")"
  } > "$mod/go.mod"
  log "$(grep -c '=>' "$mod/go.mod") staging modules mapped; downloading dependencies"
  (cd "$mod" && "$GO" mod download 2>&1 | tail -5 >&2 || true)
  (cd "$mod" && "$GO" get "k8s.io/kubernetes@$K8S_VERSION" >&2)
  log "compiling ${K8S_BINARIES[*]} (cold: about 10 minutes on 2 cores)"
  t=$SECONDS
  # Without these stamps (set by Kubernetes' own build scripts from git) the
  # binaries report v0.0.0-master, which kubectl and clients show as skew.
  minor="${K8S_VERSION#v1.}"; minor="${minor%%.*}"
  stamp=""
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    stamp+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
    stamp+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
  done
  # Built into $work and moved: a killed build never leaves a half-written
  # binary in $BIN_DIR that a later run would trust.
  (cd "$mod" && "$GO" build -trimpath "-ldflags=-s -w$stamp" -o "$work/k8s-out/" \
    $(printf 'k8s.io/kubernetes/cmd/%s ' "${K8S_BINARIES[@]}"))
  for b in "${K8S_BINARIES[@]}"; do mv -f "$work/k8s-out/$b" "$BIN_DIR/$b"; done
  log "kubernetes binaries built in $((SECONDS - t))s"
fi

if need etcd; then
  log "building etcd $ETCD_VERSION"
  mod="$work/etcd"
  mkdir -p "$mod"
  # etcd's own go.mod replaces its sibling modules with relative paths, which
  # only work inside its repository: pin them to the same published tag.
  cat > "$mod/go.mod" <<EOF
module gitops.local/build-etcd

go 1.26.0

require go.etcd.io/etcd/server/v3 $ETCD_VERSION

replace (
	go.etcd.io/etcd/api/v3 => go.etcd.io/etcd/api/v3 $ETCD_VERSION
	go.etcd.io/etcd/client/pkg/v3 => go.etcd.io/etcd/client/pkg/v3 $ETCD_VERSION
	go.etcd.io/etcd/client/v3 => go.etcd.io/etcd/client/v3 $ETCD_VERSION
	go.etcd.io/etcd/pkg/v3 => go.etcd.io/etcd/pkg/v3 $ETCD_VERSION
)
EOF
  (cd "$mod" && "$GO" get "go.etcd.io/etcd/server/v3@$ETCD_VERSION" >&2)
  t=$SECONDS
  (cd "$mod" && "$GO" build "${BUILD_FLAGS[@]}" -o "$work/etcd.bin" go.etcd.io/etcd/server/v3)
  mv -f "$work/etcd.bin" "$BIN_DIR/etcd"
  log "etcd built in $((SECONDS - t))s"
fi

# kwok and kustomize are ordinary modules whose go.mod has no local replaces,
# so `go install module@version` builds them exactly as released.
go_install() {
  local name="$1" pkg="$2"
  log "building $name ($pkg)"
  local t=$SECONDS
  mkdir -p "$work/gobin-$name"
  GOBIN="$work/gobin-$name" "$GO" install "${BUILD_FLAGS[@]}" "$pkg" >&2
  mv -f "$work/gobin-$name/$name" "$BIN_DIR/$name"
  log "$name built in $((SECONDS - t))s"
}
if need kwok; then go_install kwok "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"; fi
if need kustomize; then go_install kustomize "sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE_VERSION"; fi

log "all binaries ready in $BIN_DIR after $((SECONDS - started))s"
echo "$BIN_DIR"
