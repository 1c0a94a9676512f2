#!/usr/bin/env bash
# Builds the Kubernetes control plane, etcd, kwok, kustomize and kubectl used by
# the integration tests, the demo and the benchmarks, from the Go module proxy at
# pinned versions, into a cache directory outside the repository keyed by those
# versions. A warm run only checks that the binaries exist and takes well under
# a second.
#
# With --node it builds what a real node needs instead, into its own cache
# directory (so adding it never invalidates the control-plane build): kubelet
# and kube-proxy from the same k8s.io/kubernetes version, the pause binary
# from Kubernetes' build/pause/linux/pause.c (static, gcc), Traefik v3, and the
# standard Gateway API CRDs of the version Traefik is built against.
#
# With --tofu it builds OpenTofu (the engine of `type: terraform` components)
# into a cache directory of its own, keyed by its version.
#
# Progress goes to stderr; the last line on stdout is the bin directory.
#
# Usage: scripts/build-k8s.sh [--node|--tofu] [--print-dir]
#   --node        the real node's binaries instead of the control plane's
#   --tofu        OpenTofu instead of the control plane's binaries
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
# Traefik v3.7.x cannot be built from the module proxy this project uses: it
# answers 403 for the commit of Traefik's go-http-auth fork that v3.7 pins and
# for 14 DNS-provider SDKs of lego v5. v3.6.12 resolves completely.
TRAEFIK_VERSION=v3.6.12
# The Gateway API CRDs installed beside the control plane (progressive
# rollouts' HTTPRoutes); the real node takes the version Traefik is built against.
GATEWAY_API_VERSION=v1.4.0
# The newest OpenTofu the module proxy offers; it needs Go 1.26.6.
TOFU_VERSION=v1.12.6

GITOPS_CACHE="${GITOPS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/gitops-backstage}"

node=false
tofu=false
print_dir=false
for arg in "$@"; do
  case "$arg" in
    --node) node=true ;;
    --tofu) tofu=true ;;
    --print-dir) print_dir=true ;;
    *) echo "build-k8s: unknown argument $arg (usage: scripts/build-k8s.sh [--node|--tofu] [--print-dir])" >&2; exit 2 ;;
  esac
done

if $tofu; then
  BIN_DIR="$GITOPS_CACHE/tofu-$TOFU_VERSION/bin"
  K8S_BINARIES=()
  ALL_BINARIES=(tofu)
elif $node; then
  BIN_DIR="$GITOPS_CACHE/node-k8s-$K8S_VERSION-traefik-$TRAEFIK_VERSION/bin"
  K8S_BINARIES=(kubelet kube-proxy)
  ALL_BINARIES=("${K8S_BINARIES[@]}" pause traefik gateway-api-crds.yaml)
else
  BIN_DIR="$GITOPS_CACHE/k8s-$K8S_VERSION-etcd-$ETCD_VERSION-kwok-$KWOK_VERSION-kustomize-$KUSTOMIZE_VERSION/bin"
  K8S_BINARIES=(kube-apiserver kube-controller-manager kube-scheduler kubectl)
  ALL_BINARIES=("${K8S_BINARIES[@]}" etcd kwok kustomize gateway-api-crds.yaml)
fi

if $print_dir; then
  echo "$BIN_DIR"
  exit 0
fi

log() { echo "build-k8s: $*" >&2; }

missing=()
for b in "${ALL_BINARIES[@]}"; do
  [ -s "$BIN_DIR/$b" ] || missing+=("$b")
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
# Test runs started side by side (several engineers, one machine) wait for
# one build instead of doing it twice; each step below re-checks what exists.
exec 9>"$BIN_DIR/.build.lock"
if ! flock -n 9; then
  log "another build of $BIN_DIR is running; waiting for it"
  flock 9
fi
work="$(mktemp -d "${TMPDIR:-/tmp}/gitops-build-k8s.XXXXXX")"
trap 'rm -rf "$work"' EXIT
export GOFLAGS=-mod=mod CGO_ENABLED=0 GOTOOLCHAIN=local
BUILD_FLAGS=(-trimpath '-ldflags=-s -w')
started=$SECONDS

need() { for b in "$@"; do [ -s "$BIN_DIR/$b" ] || return 0; done; return 1; }
# The directory of a module version in the module cache (downloaded if needed).
module_dir() { (cd "$work" && "$GO" mod download -json "$1" | sed -n 's/^\s*"Dir": "\(.*\)",$/\1/p'); }

if [ ${#K8S_BINARIES[@]} -gt 0 ] && need "${K8S_BINARIES[@]}"; then
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
  log "compiling ${K8S_BINARIES[*]}"
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

if ! $node && ! $tofu && need etcd; then
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
if ! $node && ! $tofu; then
  if need kwok; then go_install kwok "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"; fi
  if need kustomize; then go_install kustomize "sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE_VERSION"; fi
fi

# The standard channel's CRDs of a sigs.k8s.io/gateway-api version, as one file.
gateway_api_crds() {
  local crds
  crds="$(module_dir "sigs.k8s.io/gateway-api@$1")/config/crd/standard"
  for f in "$crds"/*.yaml; do printf -- '---\n'; cat "$f"; done > "$work/crds.yaml"
  mv -f "$work/crds.yaml" "$BIN_DIR/gateway-api-crds.yaml"
}
if ! $node && ! $tofu && need gateway-api-crds.yaml; then
  gateway_api_crds "$GATEWAY_API_VERSION"
  log "Gateway API $GATEWAY_API_VERSION CRDs fetched"
fi

if $node && need pause; then
  # The sandbox ("pause") container every pod starts with, built the way the
  # Kubernetes release builds it (build/pause/Makefile): static, -Os.
  command -v gcc >/dev/null 2>&1 || { echo "build-k8s: gcc is needed for the pause binary: apt-get install -y gcc libc6-dev" >&2; exit 1; }
  src="$(module_dir "k8s.io/kubernetes@$K8S_VERSION")"
  pause_tag="$(sed -n 's/^TAG ?= *//p' "$src/build/pause/Makefile")"
  gcc -Os -Wall -Werror -static "-DVERSION=v$pause_tag-k8s-$K8S_VERSION" \
    -o "$work/pause" "$src/build/pause/linux/pause.c"
  # The tag the node imports the image as.
  echo "$pause_tag" > "$BIN_DIR/pause.version"
  mv -f "$work/pause" "$BIN_DIR/pause"
  log "pause $pause_tag built"
fi

if $node && need traefik gateway-api-crds.yaml; then
  log "building traefik $TRAEFIK_VERSION"
  t=$SECONDS
  mod="$work/traefik"
  mkdir -p "$mod"
  src="$(module_dir "github.com/traefik/traefik/v3@$TRAEFIK_VERSION")"
  if grep -qE '=> \.\.?/' "$src/go.mod"; then
    # (v3.7 replaces a nested module of its repository by a relative path:
    # not in the published module, so a build outside the repository would
    # have to provide it.)
    echo "build-k8s: traefik $TRAEFIK_VERSION's go.mod replaces a module by a local path; this script only carries over replaces to published versions" >&2
    exit 1
  fi
  {
    printf 'module gitops.local/build-traefik\n\ngo 1.26.0\n\n'
    printf 'require github.com/traefik/traefik/v3 %s\n\n' "$TRAEFIK_VERSION"
    # Its replaces (Traefik's forks of go-http-auth, mux and minheap) and
    # excludes only apply inside Traefik's own go.mod: carry them over.
    sed -n '/^replace (/,/^)/p; /^replace [^(]/p; /^exclude /p' "$src/go.mod"
  } > "$mod/go.mod"
  (cd "$mod" && "$GO" get "github.com/traefik/traefik/v3@$TRAEFIK_VERSION" >&2)
  (cd "$mod" && "$GO" build -trimpath \
    "-ldflags=-s -w -X github.com/traefik/traefik/v3/pkg/version.Version=$TRAEFIK_VERSION" \
    -o "$work/traefik.bin" github.com/traefik/traefik/v3/cmd/traefik)
  # The Gateway API CRDs of the version Traefik's provider is compiled against.
  gateway_api="$(cd "$mod" && "$GO" list -m -f '{{.Version}}' sigs.k8s.io/gateway-api)"
  gateway_api_crds "$gateway_api"
  mv -f "$work/traefik.bin" "$BIN_DIR/traefik"
  log "traefik built in $((SECONDS - t))s (Gateway API $gateway_api CRDs beside it)"
fi

if $tofu && need tofu; then
  log "building OpenTofu $TOFU_VERSION"
  t=$SECONDS
  mod="$work/tofu"
  mkdir -p "$mod"
  src="$(module_dir "github.com/opentofu/opentofu@$TOFU_VERSION")"
  {
    printf 'module gitops.local/build-tofu\n\ngo 1.26.6\n\n'
    printf 'require github.com/opentofu/opentofu %s\n\n' "$TOFU_VERSION"
    # Its replace (OpenTofu's fork of HCL) only applies inside OpenTofu's own
    # go.mod: carry it over.
    sed -n '/^replace (/,/^)/p; /^replace [^(]/p; /^exclude /p' "$src/go.mod"
  } > "$mod/go.mod"
  (cd "$mod" && "$GO" get "github.com/opentofu/opentofu@$TOFU_VERSION" >&2)
  # dev= drops the -dev marker a build outside OpenTofu's release adds.
  (cd "$mod" && "$GO" build -trimpath \
    "-ldflags=-s -w -X github.com/opentofu/opentofu/version.dev=no" \
    -o "$work/tofu.bin" github.com/opentofu/opentofu/cmd/tofu)
  mv -f "$work/tofu.bin" "$BIN_DIR/tofu"
  log "tofu built in $((SECONDS - t))s"
fi

log "all binaries ready in $BIN_DIR after $((SECONDS - started))s"
echo "$BIN_DIR"
