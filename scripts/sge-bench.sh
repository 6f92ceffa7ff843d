#!/usr/bin/env bash
# Measured on the one-node Grid Engine (scripts/sge-up.sh), side by side in
# one sitting, with a release build:
#  1. time to a warm pool of 8 workers: launched as one job array, and one
#     qsub per worker;
#  2. 200 tasks of 1 s: what a user does today (one qsub per task, all
#     submitted, then waiting for the last), and through dfm (a pool of 8
#     from a cold start, daemon included, and on that pool warm).
# Usage: scripts/sge-bench.sh [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
DFM="$PWD/target/release/dfm"
ROUNDS="${1:-2}"
TASKS=200
[ -x "$DFM" ] || { echo "build first: cargo build --release --workspace" >&2; exit 1; }
qstat >/dev/null || { echo "no Grid Engine running (scripts/sge-up.sh)" >&2; exit 1; }

base=$(mktemp -d /tmp/dfm-sge-bench.XXXXXX)
trap 'rm -rf "$base"' EXIT
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

# A project of $TASKS tasks of 1 s, its daemon on the sge runner.
project() {
    local root="$base/$1-$RANDOM"
    mkdir -p "$root/.dfm"
    printf 'runner:\n  sge: {parallel_environment: smp}\n  defaults: {cores: 1, memory: 4G, walltime: "1:00"}\n  pool: {poll_interval: 0.5, min_workers: %s, launch_as_array: %s}\n' "$2" "$3" > "$root/.dfm/config.yaml"
    {
        echo "package:"; echo "  name: p"; echo "  tasks:"
        for i in $(seq 1 $TASKS); do echo "  - name: t$i"; echo "    run: sleep 1"; done
        echo "  - root: all"; echo -n "    needs: ["
        seq -s, -f 't%g' 1 $TASKS | tr -d '\n'; echo "]"
    } > "$root/flow.dv"
    echo "$root"
}

# Seconds from `daemon start` to 8 idle workers.
warm_pool() {
    local root t0 idle
    root=$(project "warm-$1" 8 "$1")
    t0=$(now)
    (cd "$root" && "$DFM" daemon start --runner sge --pool-size 8 >/dev/null)
    while :; do
        idle=$(cd "$root" && "$DFM" daemon status --json | sed -n 's/.*"idle": *\([0-9]*\).*/\1/p' | head -1)
        [ "${idle:-0}" -ge 8 ] && break
        sleep 0.1
    done
    secs "$t0" "$(now)"
    (cd "$root" && "$DFM" daemon stop >/dev/null)
}

# Seconds for $TASKS `qsub -b y sleep 1`, from the first submit to the last end.
qsub_each() {
    local dir="$base/each-$RANDOM" t0 ids
    mkdir -p "$dir"
    t0=$(now)
    ids=()
    for i in $(seq 1 $TASKS); do
        ids+=("$(qsub -terse -b y -o /dev/null -j y -N "each$i" sleep 1)")
    done
    while qstat -xml | grep -q '<JB_name>each'; do sleep 0.2; done
    secs "$t0" "$(now)"
}

# Seconds for `dfm run all` on a pool of 8: cold (daemon start included), then warm.
through_dfm() {
    local root t0 cold warm
    root=$(project dfm 8 true)
    t0=$(now)
    (cd "$root" && "$DFM" daemon start --runner sge --pool-size 8 >/dev/null && "$DFM" run all -u log -j 8 >/dev/null 2>&1)
    cold=$(secs "$t0" "$(now)")
    t0=$(now)
    (cd "$root" && "$DFM" run all -u log -j 8 --clean >/dev/null 2>&1)
    warm=$(secs "$t0" "$(now)")
    (cd "$root" && "$DFM" daemon stop >/dev/null)
    echo "$cold $warm"
}

echo "round  pool-of-8-array  pool-of-8-one-by-one  qsub-per-task  dfm-cold  dfm-warm   (seconds; $TASKS tasks of 1 s, ideal on 8: $((TASKS / 8)))"
for round in $(seq 1 "$ROUNDS"); do
    array=$(warm_pool true)
    single=$(warm_pool false)
    each=$(qsub_each)
    read -r cold warm < <(through_dfm)
    printf '%5s  %15.1f  %20.1f  %13.1f  %8.1f  %8.1f\n' "$round" "$array" "$single" "$each" "$cold" "$warm"
done
