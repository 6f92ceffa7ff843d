#!/usr/bin/env bash
# Every test, on a fresh Debian 12 machine, as root: installs what the tests
# need (tmux, SLURM, Icarus Verilog, the original dv-flow-mgr and its
# libraries in target/upstream-venv), starts a one-node SLURM (stopped
# again at the end unless one was already running), builds the workspace
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

echo "== system packages: tmux (monitor), SLURM (slurm runner), Icarus Verilog (a library flow of the original's),"
echo "   xmllint and chromium (run reports: Jenkins' JUnit XSD, the HTML page in a real browser), Prometheus (metrics)"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends \
    tmux slurm-wlm slurmctld slurmd slurm-client munge iverilog iproute2 \
    libxml2-utils chromium prometheus > /dev/null

echo "== a one-node SLURM for the slurm runner's tests"
if sinfo -h >/dev/null 2>&1; then
    echo "SLURM already running: using it, leaving it running"
else
    trap 'scripts/slurm-down.sh' EXIT
    scripts/slurm-up.sh
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
