#!/usr/bin/env bash
# Installs what the project needs on a fresh Debian 12 machine: the Debian packages its tests,
# benchmarks and VS Code host use, then the npm dependencies. Safe to run again: installed
# Debian packages are skipped, and so is `npm ci` while node_modules matches package-lock.json
# (scripts/npm-ci.sh). `.ci/run` and the README's first command start with it.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

# Debian packages the tests and benchmarks use.
DEBIAN_PACKAGES=(
  procps          # ps: tests check that remote interpreters and their children are gone
  python3-execnet # the reference implementation the benchmarks compare against
  python3         # the interpreter the gateways start
  python3-gevent  # execmodel=gevent tests (Debian packages it for /usr/bin/python3)
  python3-eventlet # execmodel=eventlet tests
  python3-msgpack # lets the tests cover codec.py's path through the msgpack C extension
  rsync           # the baseline the RSync benchmark (B6) compares against
  openssh-server  # sshd: the ssh tests run a private one on 127.0.0.1 (never the system's)
  openssh-client  # ssh-keygen, ssh-agent, ssh-add for the ssh fixtures; ssh for ssh_binary
  sudo            # sudo= tests
  openssl         # a self-signed certificate for the socket server's TLS test
  iproute2        # ss: the shared-connection test counts TCP connections
  chromium        # the browser that drives the VS Code workbench in the editor tests
  ripgrep         # code-server's search; its npm installer would download rg from GitHub
  libkrb5-dev     # code-server compiles its kerberos module (no reachable prebuild)
  g++             # ... with node-gyp, like its other native modules
  make
  slurm-wlm       # the Slurm tier: a private single-node cluster on 127.0.0.1 (slurmctld, slurmd, srun)
  munge           # ... and its authentication daemon, started privately beside it
  podman          # the container tier: podman= gateways exec into a container of the test image
  runc            # podman's runtime here (crun refuses this host's hybrid cgroups)
  uidmap          # podman's user-namespace helpers
  debootstrap     # builds the container tier's Debian image from apt's own mirror (cached)
  docker.io       # the docker CLI: docker= gateways are tested against podman's Docker API (no dockerd runs)
  python3-debugpy # the debugger the execnet debug type drives, shipped to remotes that lack it
  python3-typing-extensions # shipped with debugpy to Pythons 3.8/3.9
  python3-matplotlib # plots in notebook and REPL sessions (Agg backend)
)

log_dir=$(mktemp -d "${TMPDIR:-/tmp}/execnet-setup.XXXXXX")
trap 'rm -rf "$log_dir"' EXIT

# Runs a noisy command with its output in a log file, shown only when it fails.
quietly() {
  local name=$1
  shift
  if ! "$@" >"$log_dir/$name.log" 2>&1; then
    echo "setup: '$*' failed; its output:" >&2
    cat "$log_dir/$name.log" >&2
    return 1
  fi
}

missing=()
for pkg in "${DEBIAN_PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null | grep -qx installed; then
    missing+=("$pkg")
  fi
done
if ((${#missing[@]} > 0)); then
  sudo=()
  if ((EUID != 0)); then
    command -v sudo >/dev/null || { echo "setup: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
    sudo=(sudo -n)
  fi
  echo "setup: installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  quietly apt-update "${sudo[@]}" apt-get update -q
  quietly apt-install "${sudo[@]}" apt-get install -y -q --no-install-recommends \
    -o Dpkg::Use-Pty=0 "${missing[@]}"
fi

echo "setup: node $(node --version), npm $(npm --version 2>/dev/null), $(python3 --version)"
bash scripts/npm-ci.sh
