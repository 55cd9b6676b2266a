#!/usr/bin/env bash
# Installs what Uplink needs on a fresh Debian/Ubuntu machine with Node 20+: system packages (when run
# as root with apt), the servers the tests talk to (started when not running), pnpm and the
# workspace's dependencies. Safe to run again: it only does what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'bootstrap: %s\n' "$*" >&2; }

node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$node_major" -lt 20 ]; then
  say "Node.js 20 or newer is needed (found: $(node --version 2>/dev/null || echo none)). Install it, e.g. from https://nodejs.org or your distribution, then run this again."
  exit 1
fi

# --- system packages ---------------------------------------------------------------------------
# containerd and chromium are for the runtime and browser tests; UPLINK_MINIMAL=1 leaves them out
want=(nats-server postgresql redis-server docker-registry skopeo umoci)
[ "${UPLINK_MINIMAL:-0}" = 1 ] || want+=(containerd chromium)
missing=()
for p in "${want[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null || say "apt-get update failed; trying the install anyway"
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    say "missing system packages: ${missing[*]} (run as root on Debian/Ubuntu to install them, or install them yourself)"
  fi
fi

# --- servers the tests use ----------------------------------------------------------------------
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
if ! port_open 5432 && command -v pg_ctlcluster >/dev/null; then
  say "starting PostgreSQL"
  cluster=$(ls /etc/postgresql | sort | tail -1)
  pg_ctlcluster --skip-systemctl-redirect "$cluster" main start || say "could not start PostgreSQL"
fi
if port_open 5432 && [ "$(id -u)" = 0 ]; then
  # the tests connect as postgres without a password over TCP (trust on loopback)
  hba=$(ls /etc/postgresql/*/main/pg_hba.conf 2>/dev/null | tail -1)
  if [ -n "$hba" ] && ! grep -qE '^host\s+all\s+all\s+127\.0\.0\.1/32\s+trust' "$hba"; then
    say "allowing trust auth on 127.0.0.1 in $hba"
    sed -i '1i host all all 127.0.0.1/32 trust' "$hba"
    runuser -u postgres -- psql -qc 'SELECT pg_reload_conf()' >/dev/null
  fi
  runuser -u postgres -- psql -lqt | cut -d'|' -f1 | grep -qw test || runuser -u postgres -- createdb test
fi
if ! port_open 6379 && command -v redis-server >/dev/null; then
  say "starting Redis"
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no >/dev/null
fi

# --- pnpm and dependencies ----------------------------------------------------------------------
pnpm_version=$(node -p 'require("./package.json").packageManager.split("@")[1]')
if ! command -v pnpm >/dev/null || [ "$(pnpm --version 2>/dev/null)" != "$pnpm_version" ]; then
  say "installing pnpm $pnpm_version"
  npm install -g "pnpm@$pnpm_version" >/dev/null 2>&1 || npm install -g --prefix "$HOME/.local" "pnpm@$pnpm_version" >/dev/null
  export PATH="$HOME/.local/bin:$PATH"
fi
if [ ! -f node_modules/.modules.yaml ] || [ pnpm-lock.yaml -nt node_modules/.modules.yaml ] || [ "${CI:-}" = true ]; then
  say "installing dependencies"
  pnpm install --frozen-lockfile --reporter=silent
fi
