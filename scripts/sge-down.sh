#!/usr/bin/env bash
# Stops the one-node Grid Engine scripts/sge-up.sh started: its jobs, then
# execd and qmaster. Needs root.
set -euo pipefail
export SGE_ROOT="${SGE_ROOT:-/var/lib/gridengine}"
export SGE_CELL="${SGE_CELL:-default}"
HOST="$(hostname)"
qdel -u '*' '*' >/dev/null 2>&1 || true
qconf -ke "$HOST" >/dev/null 2>&1 || true
qconf -km >/dev/null 2>&1 || true
for _ in $(seq 50); do
    pgrep -x sge_qmaster >/dev/null || pgrep -x sge_execd >/dev/null || break
    sleep 0.2
done
pkill -x sge_execd 2>/dev/null || true
pkill -x sge_qmaster 2>/dev/null || true
echo "sge-down: stopped"
