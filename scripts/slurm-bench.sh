#!/usr/bin/env bash
# Many short tasks on the real one-node SLURM, as a verification engineer
# could run them today, side by side in one sitting (interleaved rounds):
#   local-floor  the same tasks on this machine with no scheduler at all
#                (`xargs -P 8`): what process starts alone cost here
#   sbatch-each  one `sbatch` per task (the original's users without a daemon)
#   array        one `sbatch --array` of all tasks
#   hq-cold/warm HyperQueue with SLURM automatic allocation (one allocation
#                of 8 CPUs): cold from `hq server start`, then warm on the
#                allocation the cold run left
#   dfm-cold/warm dfm with a pool of 8 workers, launched as one job array:
#                cold from `dfm daemon start`, then warm on that pool
#   dfm-srun-cold/warm the same with `launch: srun` (an srun per worker,
#                which SLURM allocates at once, not in its next pass)
# For each task length (0.05, 0.2 and 1 s; DFM_BENCH_LENGTHS to change them)
# it runs at least 100 tasks and enough for an ideal of 2.5 s, in whole
# rounds of 8 (so that the ideal can be reached); each task is a bash that
# sleeps, then appends its end time to a file. It reports the makespan (until the
# user's own wait returns: `dfm run`, `hq submit --wait`, `squeue` polled
# every 0.1 s), the first result (the earliest end) and the makespan over
# the ideal (tasks x length / 8).
#
# Needs: a release build; SLURM with 8 CPUs on its node
# (DFM_SLURM_CPUS=8 scripts/slurm-up.sh); for HyperQueue, an `hq` binary in
# $HQ or on the PATH (PyPI's wheel has none: build it from its source with
# `cargo build --release --bin hq`, which needs cmake and libclang-dev); it is
# left out, saying so, when there is none.
# Usage: scripts/slurm-bench.sh [ROUNDS]   (default 2)
# For a quick look (tests/slurm_bench.rs runs it so): DFM_BENCH_TASKS=N runs
# N tasks of each length, DFM_BENCH_SLOTS=N uses N slots (the node's CPUs),
# DFM=path/to/dfm another build, DFM_BENCH_WAYS a few of the ways only
# (of "floor each array hq dfm dfm-srun", the default all of them).
set -euo pipefail
# A failure inside $(...) ends the script too.
shopt -s inherit_errexit
cd "$(dirname "$0")/.."
DFM="${DFM:-$PWD/target/release/dfm}"
ROUNDS="${1:-2}"
LENGTHS="${DFM_BENCH_LENGTHS:-0.05 0.2 1}"
SLOTS="${DFM_BENCH_SLOTS:-8}"
HQ="${HQ-$(command -v hq || true)}"
WAYS=" ${DFM_BENCH_WAYS:-floor each array hq dfm dfm-srun} "
wanted() { [[ "$WAYS" == *" $1 "* ]]; }

die() { echo "slurm-bench: $*" >&2; exit 1; }
[ -x "$DFM" ] || die "build first: cargo build --release --workspace"
cpus=$(sinfo -h -o %c 2>/dev/null | head -1) || true
[ -n "$cpus" ] || die "no SLURM running: DFM_SLURM_CPUS=$SLOTS scripts/slurm-up.sh"
[ "$cpus" = "$SLOTS" ] || die "the node advertises $cpus CPUs, not $SLOTS: scripts/slurm-down.sh, then DFM_SLURM_CPUS=$SLOTS scripts/slurm-up.sh"
for _ in $(seq 1 600); do [ -z "$(squeue -h -o %i)" ] && break; sleep 0.2; done
[ -z "$(squeue -h -o %i)" ] || die "SLURM is busy: wait for its jobs to end (squeue)"
if [ -n "$HQ" ]; then "$HQ" --version >/dev/null || die "$HQ does not run"; else echo "slurm-bench: no hq (set HQ=/path/to/hq): HyperQueue is left out" >&2; fi

base=$(mktemp -d /tmp/dfm-slurm-bench.XXXXXX)
# What a run cut short leaves running is stopped: the daemons and
# HyperQueue servers it started (named in these files: the ways run in
# subshells) and their jobs, and its own jobs.
cleanup() {
    local root dir
    while read -r root; do
        (cd "$root" && "$DFM" daemon stop >/dev/null 2>&1) || true
    done < <(cat "$base/daemons" 2>/dev/null)
    while read -r dir; do
        "$HQ" --server-dir "$dir/server" server stop >/dev/null 2>&1 || true
    done < <(cat "$base/hq-servers" 2>/dev/null)
    scancel -n dfm-bench-each,dfm-bench-array 2>/dev/null || true
    rm -rf "$base"
}
trap cleanup EXIT
now() { date +%s.%N; }
slurm_idle() { while [ -n "$(squeue -h -o %i)" ]; do sleep 0.1; done; }

# $1: start; $2: the file of end times; $3: tasks; $4: ideal. Prints the
# makespan, the first result, the ratio, and checks that every task ended.
outcome() {
    local end ended
    end=$(now)
    ended=$(wc -l < "$2")
    [ "$ended" = "$3" ] || die "$ended of $3 tasks ended ($2)"
    awk -v t0="$1" -v end="$end" -v ideal="$4" '
        NR == 1 || $1 < first { first = $1 }
        END { printf "%.2f %.2f %.2f\n", end - t0, first - t0, (end - t0) / ideal }' "$2"
}

# A task: sleep, then append the end time (bash's own clock: no process
# of its own). $1: length; $2: the file.
body() { echo "sleep $1; echo \$EPOCHREALTIME >> $2"; }
# The same as a batch script (sbatch --wrap would run it with /bin/sh).
script() { printf '#!/bin/bash\n%s\n' "$(body "$1" "$2")" > "$2.sh"; echo "$2.sh"; }

# The machine's own limit for the same tasks: no scheduler, 8 at once.
local_floor() { # length tasks ideal
    local ends="$base/floor-$RANDOM" t0
    : > "$ends"
    t0=$(now)
    seq 1 "$2" | xargs -P "$SLOTS" -I{} bash -c "$(body "$1" "$ends")"
    outcome "$t0" "$ends" "$2" "$3"
}

sbatch_each() { # length tasks ideal
    local ends="$base/each-$RANDOM" t0 i batch
    : > "$ends"
    batch=$(script "$1" "$ends")
    t0=$(now)
    for i in $(seq 1 "$2"); do
        sbatch -Q -J dfm-bench-each -p debug -c 1 --mem=100M -t 0:10 -o /dev/null "$batch"
    done
    while [ -n "$(squeue -h -n dfm-bench-each -o %i)" ]; do sleep 0.1; done
    outcome "$t0" "$ends" "$2" "$3"
}

sbatch_array() { # length tasks ideal
    local ends="$base/array-$RANDOM" t0 batch
    : > "$ends"
    batch=$(script "$1" "$ends")
    t0=$(now)
    sbatch -Q -J dfm-bench-array --array="1-$2" -p debug -c 1 --mem=100M -t 0:10 -o /dev/null "$batch"
    while [ -n "$(squeue -h -n dfm-bench-array -o %i)" ]; do sleep 0.1; done
    outcome "$t0" "$ends" "$2" "$3"
}

hyperqueue() { # length tasks ideal; prints the cold line, then the warm one
    local dir="$base/hq-$RANDOM" ends t0
    mkdir -p "$dir"
    hq() { "$HQ" --server-dir "$dir/server" "$@"; }
    ends="$dir/cold"; : > "$ends"
    t0=$(now)
    echo "$dir" >> "$base/hq-servers"
    (cd "$dir" && "$HQ" server start --server-dir "$dir/server" > "$dir/server.log" 2>&1 &)
    until hq server info >/dev/null 2>&1; do sleep 0.02; done
    hq alloc add slurm --time-limit 10m --no-dry-run --cpus "$SLOTS" --idle-timeout 5m \
        -- -p debug --cpus-per-task="$SLOTS" --mem=1G >/dev/null 2>&1
    (cd "$dir" && hq submit --array "1-$2" --cpus 1 --stdout none --stderr none --wait \
        -- bash -c "$(body "$1" "$ends")" >/dev/null)
    outcome "$t0" "$ends" "$2" "$3"
    ends="$dir/warm"; : > "$ends"
    t0=$(now)
    (cd "$dir" && hq submit --array "1-$2" --cpus 1 --stdout none --stderr none --wait \
        -- bash -c "$(body "$1" "$ends")" >/dev/null)
    outcome "$t0" "$ends" "$2" "$3"
    hq server stop >/dev/null 2>&1 || true
    slurm_idle
}

through_dfm() { # length tasks ideal launch; prints the cold line, then the warm one
    local root="$base/dfm-$RANDOM" t0 i
    mkdir -p "$root/.dfm"
    cat > "$root/.dfm/config.yaml" <<EOF
runner:
  slurm: {partition: debug, launch: $4}
  defaults: {cores: 1, memory: 100M, walltime: '0:10'}
  pool: {poll_interval: 0.2, min_workers: $SLOTS, launch_as_array: true}
EOF
    {
        echo "package:"; echo "  name: p"; echo "  tasks:"
        for i in $(seq 1 "$2"); do
            echo "  - name: t$i"
            echo "    run: '$(body "$1" "$root/ends")'"
        done
        echo "  - root: all"; echo -n "    needs: ["
        seq -s, -f 't%g' 1 "$2" | tr -d '\n'; echo "]"
    } > "$root/flow.dv"
    : > "$root/ends"
    echo "$root" >> "$base/daemons"
    t0=$(now)
    (cd "$root" && "$DFM" daemon start --runner slurm --pool-size "$SLOTS" >/dev/null \
        && "$DFM" run all -u log -j "$SLOTS" >/dev/null 2>>"$root/run.log")
    outcome "$t0" "$root/ends" "$2" "$3"
    : > "$root/ends"
    t0=$(now)
    (cd "$root" && "$DFM" run all -u log -j "$SLOTS" --clean >/dev/null 2>>"$root/run.log")
    outcome "$t0" "$root/ends" "$2" "$3"
    (cd "$root" && "$DFM" daemon stop >/dev/null)
    slurm_idle
}

results="$base/results"
row() { # round length tasks name "makespan first ratio"
    echo "$1 $2 $3 $4 $5" >> "$results"
    printf '%5s %6s %5s  %-13s %8s %8s %6s\n' "$1" "$2" "$3" "$4" $5
}

echo "SLURM $(sinfo -V | awk '{print $2}'), one node of $SLOTS CPUs; dfm $("$DFM" --version | awk '{print $2}')${HQ:+; $("$HQ" --version)}"
printf '%5s %6s %5s  %-13s %8s %8s %6s\n' round length tasks how makespan first /ideal
for round in $(seq 1 "$ROUNDS"); do
    for length in $LENGTHS; do
        # At least 100 tasks and an ideal of 2.5 s, in whole rounds of 8.
        tasks=$(awk -v l="$length" -v s="$SLOTS" 'BEGIN { n = int(2.5 * s / l + 0.999); if (n < 100) n = 100; print int((n + s - 1) / s) * s }')
        tasks="${DFM_BENCH_TASKS:-$tasks}"
        ideal=$(awk -v l="$length" -v n="$tasks" -v s="$SLOTS" 'BEGIN { print n * l / s }')
        # Each measured into a variable first: a way that fails (fewer
        # tasks ended than given, say) ends the script.
        if wanted floor; then
            out=$(local_floor "$length" "$tasks" "$ideal")
            row "$round" "$length" "$tasks" local-floor "$out"
        fi
        if wanted each; then
            out=$(sbatch_each "$length" "$tasks" "$ideal")
            row "$round" "$length" "$tasks" sbatch-each "$out"
        fi
        if wanted array; then
            out=$(sbatch_array "$length" "$tasks" "$ideal")
            row "$round" "$length" "$tasks" array "$out"
        fi
        if [ -n "$HQ" ] && wanted hq; then
            out=$(hyperqueue "$length" "$tasks" "$ideal")
            row "$round" "$length" "$tasks" hq-cold "$(sed -n 1p <<< "$out")"
            row "$round" "$length" "$tasks" hq-warm "$(sed -n 2p <<< "$out")"
        fi
        if wanted dfm; then
            out=$(through_dfm "$length" "$tasks" "$ideal" sbatch)
            row "$round" "$length" "$tasks" dfm-cold "$(sed -n 1p <<< "$out")"
            row "$round" "$length" "$tasks" dfm-warm "$(sed -n 2p <<< "$out")"
        fi
        if wanted dfm-srun; then
            out=$(through_dfm "$length" "$tasks" "$ideal" srun)
            row "$round" "$length" "$tasks" dfm-srun-cold "$(sed -n 1p <<< "$out")"
            row "$round" "$length" "$tasks" dfm-srun-warm "$(sed -n 2p <<< "$out")"
        fi
    done
done

echo
echo "median over $ROUNDS rounds (makespan s, first result s, makespan/ideal):"
awk '{ key = $2 " " $4; n[key]++; m[key, n[key]] = $5; f[key, n[key]] = $6; r[key, n[key]] = $7 }
     END { for (key in n) print key, n[key] }' "$results" | while read -r length how count; do
    awk -v l="$length" -v h="$how" '$2 == l && $4 == h' "$results" | sort -k7,7n \
        | awk -v c="$count" '{ a[NR] = $0 } END { print a[int((c + 1) / 2)] }'
done | sort -k2,2n -k4,4 | awk '{ printf "%6s  %-13s %8s %8s %6s\n", $2, $4, $5, $6, $7 }'
