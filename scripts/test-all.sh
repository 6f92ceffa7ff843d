#!/usr/bin/env bash
# Every test, on a fresh Debian 12 machine, as root: installs what the tests
# need (tmux, SLURM, Grid Engine, Icarus Verilog, xmllint, chromium,
# Prometheus, the original dv-flow-mgr and its libraries in
# target/upstream-venv), starts a one-node SLURM and a one-node Grid Engine
# (stopped again at the end unless already running), builds the workspace
# and runs `cargo test --workspace -- --include-ignored`.
#
# The tests that need one of those services are `#[ignore = "needs ..."]`:
# a plain `cargo test` reports them as ignored. Here every one of them runs,
# and the run fails if any test is still reported as ignored.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
    echo "scripts/test-all.sh needs root (apt-get, SLURM, network namespaces, tmpfs mounts)" >&2
    exit 2
fi

echo "== system packages: tmux (monitor), SLURM (slurm runner), Grid Engine (sge runner), Icarus Verilog"
echo "   (a library flow of the original's), xmllint and chromium (run reports: Jenkins' JUnit XSD, the HTML"
echo "   page in a real browser), Prometheus (metrics)"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# Grid Engine's packages ask where the cell and its master are; their
# services must not start from the install (no systemd: sge-up.sh does it).
host="$(hostname)"
debconf-set-selections <<SEL
gridengine-common shared/gridengineconfig boolean true
gridengine-common shared/gridenginecell string default
gridengine-common shared/gridenginemaster string $host
gridengine-master shared/gridengineconfig boolean true
gridengine-master shared/gridenginecell string default
gridengine-master shared/gridenginemaster string $host
gridengine-client shared/gridengineconfig boolean true
gridengine-exec shared/gridengineconfig boolean true
SEL
had_policy=0
[ -e /usr/sbin/policy-rc.d ] && had_policy=1
[ "$had_policy" = 1 ] || printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
chmod +x /usr/sbin/policy-rc.d
apt-get install -y -qq --no-install-recommends \
    tmux slurm-wlm slurmctld slurmd slurm-client munge iverilog iproute2 \
    gridengine-master gridengine-exec gridengine-client \
    libxml2-utils chromium prometheus > /dev/null
[ "$had_policy" = 1 ] || rm -f /usr/sbin/policy-rc.d

stop_on_exit=()
trap 'for stop in "${stop_on_exit[@]}"; do $stop; done' EXIT

echo "== a one-node SLURM for the slurm runner's tests"
if sinfo -h >/dev/null 2>&1; then
    echo "SLURM already running: using it, leaving it running"
else
    stop_on_exit+=(scripts/slurm-down.sh)
    scripts/slurm-up.sh
fi

echo "== a one-node Grid Engine for the sge runner's tests"
if qstat >/dev/null 2>&1; then
    echo "Grid Engine already running: using it (configured again), leaving it running"
    scripts/sge-up.sh
else
    stop_on_exit+=(scripts/sge-down.sh)
    scripts/sge-up.sh
fi

echo "== the original dv-flow-mgr, its libraries and pytest, for the compatibility tests"
python3 -m venv target/upstream-venv
target/upstream-venv/bin/pip install --quiet --disable-pip-version-check -r tests/upstream/requirements.txt
export DFM_UPSTREAM_PYTHON="$PWD/target/upstream-venv/bin/python"

echo "== tests, the ignored ones included"
cargo build --workspace
log="$(mktemp)"
cargo test --workspace -- --include-ignored 2>&1 | tee "$log"
if grep -E "^test result: .* [1-9][0-9]* ignored" "$log"; then
    echo "some tests were ignored above: every test must run here" >&2
    exit 1
fi
echo "== every test ran: $(grep -E '^test result:' "$log" | awk '{s+=$4} END {print s}') passed"
