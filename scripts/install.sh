#!/usr/bin/env bash
# Installs dfm into PREFIX, for a site (for example a shared, read-only
# /tools/dfm/<version>):
#
#   PREFIX/bin/dfm, dfm-worker, dfm-out
#   PREFIX/lib/dfm/plugins/libdfm_runner_{local,lsf,slurm,sge}.so
#   PREFIX/etc/dfm/config.yaml        every key, commented out
#   PREFIX/share/man/man1/dfm*.1
#   PREFIX/share/bash-completion/completions/dfm
#   PREFIX/share/zsh/site-functions/_dfm
#   PREFIX/share/fish/vendor_completions.d/dfm.fish
#
# The installed dfm finds its plugins and its install configuration from its
# own path: no environment variable is needed. Each project keeps its own
# .dfm/, so one installation serves many users at once, read-only.
#
# Usage: scripts/install.sh [--profile release|dev] [--no-build] PREFIX
# (--profile dev installs what `cargo build --workspace` built; --no-build
# installs what is built already, as the tests do.)
set -euo pipefail

profile=release
build=yes
while [[ "${1:-}" == --* ]]; do
    case "$1" in
        --profile) profile="${2:?--profile needs release or dev}"; shift 2 ;;
        --no-build) build=no; shift ;;
        *) echo "install.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
prefix="${1:?usage: scripts/install.sh [--profile release|dev] PREFIX}"
repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo"

case "$profile" in
    release) out=target/release ;;
    dev) out=target/debug ;;
    *) echo "install.sh: --profile is release or dev, not '$profile'" >&2; exit 2 ;;
esac

if [[ "$build" == yes ]]; then
    echo "== building ($profile)"
    cargo build --profile "$profile" --workspace --quiet
fi

mkdir -p "$prefix"
prefix="$(cd "$prefix" && pwd)"
echo "== installing into $prefix"
install -d "$prefix/bin" "$prefix/lib/dfm/plugins" "$prefix/etc/dfm" \
    "$prefix/share/man/man1" "$prefix/share/bash-completion/completions" \
    "$prefix/share/zsh/site-functions" "$prefix/share/fish/vendor_completions.d"
for program in dfm dfm-worker dfm-out; do
    install -m 0755 "$out/$program" "$prefix/bin/$program"
done
for runner in local lsf slurm sge; do
    install -m 0644 "$out/libdfm_runner_$runner.so" "$prefix/lib/dfm/plugins/"
done
install -m 0644 etc/config.yaml "$prefix/etc/dfm/config.yaml"

dfm="$prefix/bin/dfm"
"$dfm" manpages "$prefix/share/man/man1"
"$dfm" completions bash > "$prefix/share/bash-completion/completions/dfm"
"$dfm" completions zsh > "$prefix/share/zsh/site-functions/_dfm"
"$dfm" completions fish > "$prefix/share/fish/vendor_completions.d/dfm.fish"

echo "== installed: $("$dfm" --version)"
"$dfm" plugins
echo "Put $prefix/bin on PATH (and $prefix/share/man on MANPATH)."
