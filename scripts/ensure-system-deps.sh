#!/usr/bin/env bash
# Makes sure the Debian packages the real test servers need are installed:
# the CNCF distribution registry, PostgreSQL, htpasswd (bcrypt for the
# registry's Basic auth), openssl (the token-auth certificate), git
# (http-backend), Chromium (browser tests), and what a real node runs on:
# containerd, runc, the CNI plugins, iptables (kube-proxy) and gcc with a
# static libc (the pause binary), and Prometheus (canary analysis).
# Idempotent: a machine that has everything is left untouched.
# As root on a Debian-like system the missing packages are installed with
# apt-get; otherwise one line says what to install.
set -euo pipefail

# package:probe pairs; a probe is a command on PATH or an absolute file path.
deps=(
  "docker-registry:/usr/bin/docker-registry"
  "postgresql:/usr/lib/postgresql/*/bin/initdb"
  "apache2-utils:htpasswd"
  "openssl:openssl"
  "git:git"
  "chromium:/usr/bin/chromium"
  "containerd:/usr/bin/containerd"
  "runc:/usr/sbin/runc"
  "containernetworking-plugins:/usr/lib/cni/bridge"
  "iptables:/usr/sbin/iptables"
  "gcc:gcc"
  "libc6-dev:/usr/lib/*/libc.a"
  "prometheus:/usr/bin/prometheus"
)

present() {
  local probe="$1"
  if [[ "$probe" == /* ]]; then
    compgen -G "$probe" >/dev/null
  else
    command -v "$probe" >/dev/null 2>&1
  fi
}

missing=()
for dep in "${deps[@]}"; do
  present "${dep#*:}" || missing+=("${dep%%:*}")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "ensure-system-deps: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  # An install straight away works when the package lists are fresh; refresh
  # them only when it does not.
  if ! apt-get install -y --no-install-recommends "${missing[@]}" >&2; then
    apt-get update >&2
    apt-get install -y --no-install-recommends "${missing[@]}" >&2
  fi
  # The Debian packages start system services; the tests run their own
  # throw-away instances on free ports, so stop the system ones if they came up.
  if [[ " ${missing[*]} " == *" docker-registry "* ]] && command -v service >/dev/null 2>&1; then
    service docker-registry stop >/dev/null 2>&1 || true
  fi
  # Likewise Prometheus: the rollout tests start their own on a free port.
  if [[ " ${missing[*]} " == *" prometheus "* ]] && command -v service >/dev/null 2>&1; then
    service prometheus stop >/dev/null 2>&1 || true
  fi
  # Likewise containerd: a real node runs its own, configured in a temp dir.
  if [[ " ${missing[*]} " == *" containerd "* ]] && command -v service >/dev/null 2>&1; then
    service containerd stop >/dev/null 2>&1 || true
  fi
  exit 0
fi

echo "ensure-system-deps: missing ${missing[*]}: install with 'sudo apt-get install -y ${missing[*]}'" >&2
exit 1
