#!/usr/bin/env bash
# Everything the integration and browser tests run against, installed or
# built once: Debian packages (registry, PostgreSQL, Chromium, …) and the
# Kubernetes binaries from the Go module proxy (cached by version; a cold
# build takes about 15 minutes on 2 cores, a warm check milliseconds), and
# the real node's (kubelet, kube-proxy, pause, Traefik: about 12 more), and
# OpenTofu for `terraform` components (about 20 more).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/ensure-system-deps.sh
scripts/build-k8s.sh >/dev/null
scripts/build-k8s.sh --node >/dev/null
scripts/build-k8s.sh --tofu >/dev/null
