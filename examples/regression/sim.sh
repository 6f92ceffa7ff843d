#!/usr/bin/env bash
# A stand-in for a simulator: "runs" a test against the built model.
# usage: sim.sh MODEL TEST SEED
set -euo pipefail
model=$1 test=$2 seed=$3
[ -f "$model" ] || { echo "error: model $model not built" >&2; exit 2; }
echo "sim: $(cat "$model"), test $test, seed $seed"
cycles=$(( (seed * 7919) % 900 + 100 ))
sleep "0.$(( seed % 3 + 1 ))"
echo "sim: $test passed after $cycles cycles"
