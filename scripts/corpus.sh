#!/usr/bin/env bash
# The original dv-flow-mgr's own unit tests as a differential corpus for
# daemons (tests/upstream/corpus/; tests/upstream_corpus.rs runs it in CI).
#
#   scripts/corpus.sh import GIT_DIR
#       Copies tests/unit of the original's repository at the commit pinned in
#       tests/upstream/corpus/COMMIT from GIT_DIR (a clone, or the git
#       directory the search tool's `fetch github:dv-flow/dv-flow-mgr` gives)
#       into tests/upstream/corpus/tests/unit.
#   scripts/corpus.sh record PYTHON
#       Runs the corpus in-process and through the original's own daemon with
#       PYTHON (a venv of tests/upstream/requirements.txt); writes
#       excluded.txt (what fails in-process) and outcomes.json (each test's
#       outcome both ways), which CI compares dfm's daemon with.
#   scripts/corpus.sh run PYTHON in-process|theirs|ours OUT.json
#       One run; `ours` uses target/debug/dfm (cargo build --workspace first).
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
corpus="$repo/tests/upstream/corpus"

run() {
    local python="$1" mode="$2" out="$3"
    local daemon=""
    case "$mode" in
        in-process) ;;
        theirs|ours) daemon="$mode" ;;
        *) echo "mode: in-process, theirs or ours" >&2; exit 2 ;;
    esac
    (cd "$corpus" && DFM_CORPUS_DAEMON="$daemon" DFM_CORPUS_DFM="$repo/target/debug/dfm" \
        DFM_CORPUS_OUTCOMES="$out" PYTHONPATH="$corpus" \
        "$python" -m pytest -q -p no:cacheprovider -p dfm_route --timeout 120 tests/unit) || true
}

case "${1:-}" in
    import)
        git_dir="${2:?GIT_DIR}"
        commit="$(grep -o '^[0-9a-f]\{40\}' "$corpus/COMMIT")"
        rm -rf "$corpus/tests/unit"
        mkdir -p "$corpus/tests"
        git --git-dir="$git_dir" archive "$commit" tests/unit | tar -x -C "$corpus"
        echo "tests/unit of $commit: $(find "$corpus/tests/unit" -type f | wc -l) files"
        ;;
    record)
        python="${2:?PYTHON}"
        scratch="$(mktemp -d)"
        printf '%s\n' '# Tests of the original'"'"'s suite that fail in-process against the pinned' \
            '# dv-flow-mgr (tests/upstream/requirements.txt): left out of the corpus.' \
            '# Written by scripts/corpus.sh record.' > "$corpus/excluded.txt"
        run "$python" in-process "$scratch/in-process.json"
        "$python" - "$scratch/in-process.json" >> "$corpus/excluded.txt" <<'PY'
import json, sys
for test, outcome in json.load(open(sys.argv[1])).items():
    if outcome in ("failed", "error"):
        print(test)
PY
        run "$python" in-process "$scratch/in-process.json"
        run "$python" theirs "$scratch/theirs.json"
        "$python" - "$scratch" "$corpus/outcomes.json" <<'PY'
import json, sys
scratch, out = sys.argv[1], sys.argv[2]
runs = {mode: json.load(open("%s/%s.json" % (scratch, mode))) for mode in ("in-process", "theirs")}
tests = sorted(set(runs["in-process"]) | set(runs["theirs"]))
table = {t: {mode: runs[mode].get(t, "missing") for mode in runs} for t in tests}
with open(out, "w") as fp:
    json.dump(table, fp, indent=1, sort_keys=True)
    fp.write("\n")
for mode, outcomes in runs.items():
    print("%s: %d passed of %d" % (mode, sum(o == "passed" for o in outcomes.values()), len(outcomes)))
PY
        rm -rf "$scratch"
        ;;
    run)
        run "${2:?PYTHON}" "${3:?MODE}" "${4:?OUT.json}"
        ;;
    *)
        sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'
        exit 2
        ;;
esac
