#!/usr/bin/env bash
# The whole test command: type-check, lint, then every Jest suite (unit,
# integration against real servers, end to end) in one run, ending with a
# "N passed, N failed" line. Expects scripts/toolchain.sh to be sourced.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*"; }

if [ -x scripts/prepare-test-servers.sh ]; then
  step "Real servers for integration tests (Kubernetes, registry, Git, PostgreSQL)"
  scripts/prepare-test-servers.sh
fi

step "Type-check"
yarn tsc

step "Lint"
yarn lint:all

step "Tests"
report="$(mktemp -d)/jest.json"
status=0
# Servers the tests start inherit this mark, so the check below names only
# this run's leftovers, not those of another test run on the same machine.
export GITOPS_TEST_RUN="$$-$(date +%s%N)"
CI=true yarn backstage-cli repo test --json --outputFile="$report" "$@" || status=$?

# A server of ours still running is a broken teardown: one carrying this
# run's mark, or one carrying no mark at all (started outside Node, e.g. by
# containerd); one marked by another run is that run's business.
leftover="$(ps -eo pid=,comm= | awk '$2 ~ /^(kube-apiserver|kube-controller|kube-scheduler|etcd|kwok|docker-registry|registry|postgres|chromium|git-http-backend|kubelet|kube-proxy|containerd|containerd-shim|traefik|pause)$/' |
  while read -r pid comm; do
    mark="$(tr '\0' '\n' 2>/dev/null </proc/"$pid"/environ | sed -n 's/^GITOPS_TEST_RUN=//p' || true)"
    if [ -z "$mark" ] || [ "$mark" = "$GITOPS_TEST_RUN" ]; then
      echo "$pid $comm"
    fi
  done || true)"
if [ -n "$leftover" ]; then
  printf 'Tests left these servers running (a teardown is broken):\n%s\n' "$leftover" >&2
  status=1
fi

node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  console.log(`tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests + r.numTodoTests} skipped`);
' "$report" || status=1
exit "$status"
