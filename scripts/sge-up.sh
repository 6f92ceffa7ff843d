#!/usr/bin/env bash
# Starts a one-node Grid Engine (Debian's Son of Grid Engine 8.1.9:
# gridengine-master gridengine-exec gridengine-client) on this machine, for
# the end-to-end tests. Needs root and no systemd; the packages installed
# with debconf preseeded (scripts/test-all.sh does it). Idempotent: a
# cluster already answering is left as it is, configured again. Stop it with
# scripts/sge-down.sh.
#
# Made for tests (see ../shared/notes/gridengine.md for why each step):
# root may run jobs (min_uid 0), the scheduler runs every second, accounting
# is written at once (qacct knows a job as it ends), the queue `all.q` has 16
# slots and no load threshold (a loaded 2-core machine would block it), a PE
# `smp`, and a consumable `sim_seat` of 2 (licenses held per worker).
set -euo pipefail

export SGE_ROOT="${SGE_ROOT:-/var/lib/gridengine}"
export SGE_CELL="${SGE_CELL:-default}"
RUN=/run/gridengine
SCRATCH="${DFM_SGE_DIR:-/tmp/dfm-sge}"

die() { echo "sge-up: $*" >&2; exit 1; }

for tool in /usr/sbin/sge_qmaster /usr/sbin/sge_execd qsub qstat qconf qacct qdel; do
    command -v "$tool" >/dev/null || die "$tool not found: install gridengine-master gridengine-exec gridengine-client (debconf preseeded: see scripts/test-all.sh)"
done
[ "$(id -u)" = 0 ] || die "must run as root"
[ -f "$SGE_ROOT/$SGE_CELL/common/act_qmaster" ] || die "no cell in $SGE_ROOT/$SGE_CELL: reinstall gridengine-master with shared/gridengineconfig true"

HOST="$(hostname)"
# qmaster refuses a client whose address resolves to another name
# (`localhost` for 127.0.0.1 here).
echo "$HOST localhost" > "$SGE_ROOT/$SGE_CELL/common/host_aliases"
echo "$HOST" > "$SGE_ROOT/$SGE_CELL/common/act_qmaster"
install -d -o sgeadmin -g sgeadmin "$RUN"
mkdir -p "$SCRATCH"

# A clean environment: jobs inherit execd's.
daemon_env=(env -i PATH=/usr/sbin:/usr/bin:/bin SGE_ROOT="$SGE_ROOT" SGE_CELL="$SGE_CELL")

if ! qstat >/dev/null 2>&1; then
    "${daemon_env[@]}" SGE_QMASTER_PIDFILE="$RUN/qmaster.pid" /usr/sbin/sge_qmaster
    for _ in $(seq 50); do qstat >/dev/null 2>&1 && break; sleep 0.2; done
    qstat >/dev/null 2>&1 || die "qmaster does not answer (its messages: /var/spool/gridengine/qmaster/messages)"
fi

conf="$SCRATCH/conf"
# The global configuration (qconf -Mconf takes a file named for it): root
# runs jobs; accounting at once.
global="$SCRATCH/global"
qconf -sconf global \
    | sed -e 's/^min_uid .*/min_uid 0/' -e 's/^min_gid .*/min_gid 0/' \
    | awk '/^reporting_params/ {print "reporting_params accounting=true reporting=false flush_time=00:00:01 joblog=false sharelog=00:00:00 accounting_flush_time=00:00:00"; skip=1; next}
           skip && /^[ \t]/ {next} {skip=0; print}' > "$global"
qconf -Mconf "$global" >/dev/null
# The scheduler: every second.
qconf -ssconf | sed -e 's/^schedule_interval .*/schedule_interval 0:0:1/' > "$conf"
qconf -Msconf "$conf" >/dev/null
qconf -ah "$HOST" >/dev/null 2>&1 || true
qconf -as "$HOST" >/dev/null 2>&1 || true
# A consumable for licenses the scheduler holds per worker.
qconf -sc > "$conf"
if ! grep -q '^sim_seat ' "$conf"; then
    echo "sim_seat sim_seat INT <= YES YES 0 0" >> "$conf"
    qconf -Mc "$conf" >/dev/null
fi
# The host, with 2 seats of it.
if ! qconf -se "$HOST" >/dev/null 2>&1; then
    printf 'hostname %s\nload_scaling NONE\ncomplex_values sim_seat=2\nuser_lists NONE\nxuser_lists NONE\nprojects NONE\nxprojects NONE\nusage_scaling NONE\nreport_variables NONE\n' "$HOST" > "$conf"
    qconf -Ae "$conf" >/dev/null
else
    qconf -mattr exechost complex_values sim_seat=2 "$HOST" >/dev/null
fi
# The PE smp.
printf 'pe_name smp\nslots 999\nuser_lists NONE\nxuser_lists NONE\nstart_proc_args NONE\nstop_proc_args NONE\nallocation_rule $pe_slots\ncontrol_slaves FALSE\njob_is_first_task TRUE\nurgency_slots min\naccounting_summary FALSE\nqsort_args NONE\n' > "$conf"
qconf -sp smp >/dev/null 2>&1 && qconf -Mp "$conf" >/dev/null || qconf -Ap "$conf" >/dev/null
# The queue all.q on this host: 16 slots, no load threshold, the PE.
if ! qconf -sq all.q >/dev/null 2>&1; then
    # From the template `qconf -sq` shows, named.
    qconf -sq | sed -e 's/^qname .*/qname all.q/' -e "s/^hostlist .*/hostlist $HOST/" \
        -e 's/^pe_list .*/pe_list smp/' -e 's/^slots .*/slots 16/' -e 's/^load_thresholds .*/load_thresholds NONE/' > "$conf"
    qconf -Aq "$conf" >/dev/null
fi
if qconf -sq all.q >/dev/null 2>&1; then
    qconf -rattr queue hostlist "$HOST" all.q >/dev/null
    qconf -mattr queue slots 16 all.q >/dev/null
    qconf -rattr queue load_thresholds NONE all.q >/dev/null
    qconf -rattr queue pe_list smp all.q >/dev/null
else
    die "could not make the queue all.q"
fi

if ! qping -info "$HOST" 6445 execd 1 >/dev/null 2>&1; then
    "${daemon_env[@]}" SGE_EXECD_PIDFILE="$RUN/execd.pid" /usr/sbin/sge_execd
    for _ in $(seq 50); do qping -info "$HOST" 6445 execd 1 >/dev/null 2>&1 && break; sleep 0.2; done
    qping -info "$HOST" 6445 execd 1 >/dev/null 2>&1 || die "execd does not answer (its messages: /var/spool/gridengine/execd/$HOST/messages)"
fi

# A job runs end to end, and qacct knows it.
id=$(qsub -terse -b y -o /dev/null -j y /bin/true)
for _ in $(seq 100); do qacct -j "$id" >/dev/null 2>&1 && break; sleep 0.2; done
qacct -j "$id" >/dev/null 2>&1 || die "a test job ($id) did not run: qstat -j $id says $(qstat -j "$id" 2>&1 | tail -3)"
echo "sge-up: Grid Engine running on $HOST (SGE_ROOT=$SGE_ROOT, cell $SGE_CELL)"
