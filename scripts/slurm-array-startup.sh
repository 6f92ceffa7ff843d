#!/usr/bin/env bash
# How long a cold pool of 16 SLURM workers takes to run 16 tasks at once:
# from `dfm daemon start --pool-size 16` to the 16th task started, with the
# workers launched as one job array and with one sbatch per worker.
# Needs a running SLURM with 16 free cores (scripts/slurm-up.sh) and a
# release build. Usage: scripts/slurm-array-startup.sh [ROUNDS [DELAY]]
# DELAY: seconds each sbatch call is made to take first, as on a busy
# controller (default 0: this machine's own, a few milliseconds).
set -euo pipefail
cd "$(dirname "$0")/.."
DFM="$PWD/target/release/dfm"
ROUNDS="${1:-3}"
DELAY="${2:-0}"
[ -x "$DFM" ] || { echo "build first: cargo build --release --workspace" >&2; exit 1; }
sinfo -h >/dev/null || { echo "no SLURM running (scripts/slurm-up.sh)" >&2; exit 1; }

base=$(mktemp -d /tmp/dfm-arrays.XXXXXX)
trap 'rm -rf "$base"' EXIT

now() { date +%s.%N; }

# $1: a name; $2: pool settings. Prints seconds and sbatch calls.
one_round() {
    local root="$base/$1-$RANDOM" calls
    mkdir -p "$root/.dfm" "$root/started"
    cat > "$root/sbatch-counting" <<EOF
#!/bin/sh
echo "\$*" >> '$root/sbatch.calls'
sleep $DELAY
exec sbatch "\$@"
EOF
    chmod +x "$root/sbatch-counting"
    {
        echo "package:"
        echo "  name: p"
        echo "  tasks:"
        for i in $(seq 1 16); do
            echo "  - name: t$i"
            echo "    run: 'touch $root/started/t$i; sleep 20'"
        done
        echo "  - root: all"
        echo "    needs: [$(seq -s, -f 't%g' 1 16)]"
    } > "$root/flow.dv"
    cat > "$root/.dfm/config.yaml" <<EOF
runner:
  slurm: {sbatch_cmd: '$root/sbatch-counting', partition: debug}
  defaults: {cores: 1, memory: 100M, walltime: '0:10'}
  pool: {poll_interval: 0.2, $2}
EOF
    local start
    start=$(now)
    (cd "$root" && "$DFM" daemon start --runner slurm --pool-size 16 >/dev/null)
    (cd "$root" && "$DFM" run all -u log -j 16 >/dev/null 2>&1 &)
    while [ "$(ls "$root/started" | wc -l)" -lt 16 ]; do sleep 0.05; done
    local end
    end=$(now)
    calls=$(wc -l < "$root/sbatch.calls")
    (cd "$root" && "$DFM" daemon stop >/dev/null)
    while [ -n "$(squeue -h -u "$(id -un)" -o %i)" ]; do sleep 0.2; done
    echo "$(echo "$end - $start" | bc) $calls"
}

for round in $(seq 1 "$ROUNDS"); do
    for setting in "array:launch_as_array: true" \
                   "one-per-worker:launch_as_array: false" \
                   "one-per-worker-16-at-once:launch_as_array: false, launch_batch_size: 16"; do
        name=${setting%%:*}
        read -r secs calls < <(one_round "$name" "${setting#*:}")
        printf "round %d  %-26s %6.2f s to 16 tasks running, %2d sbatch calls\n" \
            "$round" "$name" "$secs" "$calls"
    done
done
