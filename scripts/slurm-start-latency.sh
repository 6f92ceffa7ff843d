#!/usr/bin/env bash
# How long SLURM takes from a submission to the job's first command, on an
# idle cluster, for each way a client can ask: one `sbatch`, an `sbatch
# --array` of 8, an `srun`, and an `salloc --no-shell` (to its allocation
# only). Why dfm has `runner.slurm.launch: srun`: SLURM starts batch jobs in
# its scheduler's next pass, an allocation asked for interactively at once.
# Needs a running SLURM (scripts/slurm-up.sh) with nothing else queued.
# Usage: scripts/slurm-start-latency.sh [ROUNDS]   (default 6)
set -euo pipefail
ROUNDS="${1:-6}"
sinfo -h >/dev/null || { echo "no SLURM running (scripts/slurm-up.sh)" >&2; exit 1; }
[ -z "$(squeue -h -o %i)" ] || { echo "SLURM is busy: wait for its jobs to end (squeue)" >&2; exit 1; }

dir=$(mktemp -d /tmp/dfm-start-latency.XXXXXX)
out="$dir/started"
trap 'scancel -n dfm-latency 2>/dev/null || true; rm -rf "$dir"' EXIT
stamp="date +%s.%N >> $out"

one() { # way; prints seconds from the submission to the first stamp
    local t0 srun_pid=""
    rm -f "$out"
    t0=$(date +%s.%N)
    case $1 in
    sbatch) sbatch -Q -J dfm-latency -o /dev/null --wrap "$stamp" ;;
    array) sbatch -Q -J dfm-latency -o /dev/null --array=0-7 --wrap "$stamp" ;;
    srun) srun -Q -J dfm-latency -o /dev/null bash -c "$stamp" & srun_pid=$! ;;
    salloc) salloc -Q -J dfm-latency --no-shell -n 1 >/dev/null 2>&1; eval "$stamp" ;;
    esac
    while [ ! -s "$out" ]; do sleep 0.005; done
    echo "$(head -1 "$out") - $t0" | bc
    [ -z "$srun_pid" ] || wait "$srun_pid"
    scancel -n dfm-latency 2>/dev/null || true
    while [ -n "$(squeue -h -o %i)" ]; do sleep 0.05; done
}

printf '%-7s %s\n' way "seconds to the first command, by round"
for way in sbatch array srun salloc; do
    line=""
    for _ in $(seq 1 "$ROUNDS"); do
        line="$line $(printf '%.3f' "$(one "$way")")"
        sleep "0.$RANDOM" # rounds fall anywhere in the scheduler's cycle
    done
    printf '%-7s%s\n' "$way" "$line"
done
