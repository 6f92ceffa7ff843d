#!/usr/bin/env bash
# Stops what scripts/slurm-up.sh started: cancels all jobs, then stops
# slurmd, slurmctld and munged. Safe to run when nothing is running.
set -uo pipefail

SCRATCH="${DFM_SLURM_DIR:-/tmp/dfm-slurm}"

# Waits up to 10 s for the process in pid file $1 to exit after SIGTERM.
stop_pidfile() {
    local file="$1" pid
    [ -f "$file" ] || return 0
    pid="$(cat "$file")"
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid"
        for _ in $(seq 1 100); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
    fi
    rm -f "$file"
}

if sinfo -h >/dev/null 2>&1; then
    scancel -p debug 2>/dev/null || true
    for _ in $(seq 1 100); do
        [ -z "$(squeue -h 2>/dev/null)" ] && break
        sleep 0.1
    done
fi
stop_pidfile "$SCRATCH/slurmd.pid"
stop_pidfile "$SCRATCH/slurmctld.pid"
stop_pidfile /run/munge/munged.pid
echo "slurm-down: stopped"
