#!/usr/bin/env bash
# Starts a one-node SLURM cluster on this machine from Debian's packages
# (slurm-wlm slurmctld slurmd slurm-client munge), for the end-to-end tests.
# Needs root and no systemd. Installs nothing. Idempotent: a cluster already
# answering `sinfo` is left as it is. Stop it with scripts/slurm-down.sh.
#
# State, spool and logs go under $DFM_SLURM_DIR (default /tmp/dfm-slurm).
# The node advertises $DFM_SLURM_CPUS CPUs (default 16; scripts/slurm-bench.sh
# wants 8).
set -euo pipefail

SCRATCH="${DFM_SLURM_DIR:-/tmp/dfm-slurm}"
CONF=/etc/slurm/slurm.conf

die() { echo "slurm-up: $*" >&2; exit 1; }

for tool in munged slurmctld slurmd sinfo; do
    command -v "$tool" >/dev/null || die "$tool not found: apt-get install -y --no-install-recommends slurm-wlm slurmctld slurmd slurm-client munge"
done
[ "$(id -u)" = 0 ] || die "must run as root"

NODE="$(hostname -s)"
if ! getent hosts "$NODE" >/dev/null; then
    echo "127.0.0.1 $NODE" >> /etc/hosts
fi

if [ "$(sinfo -h -n "$NODE" -o %T 2>/dev/null)" = idle ] && [ -f "$SCRATCH/slurmctld.pid" ]; then
    running_cpus="$(sinfo -h -n "$NODE" -o %c)"
    if [ -n "${DFM_SLURM_CPUS:-}" ] && [ "$running_cpus" != "$DFM_SLURM_CPUS" ]; then
        die "SLURM already running on $NODE with $running_cpus CPUs, not $DFM_SLURM_CPUS: scripts/slurm-down.sh first"
    fi
    echo "slurm-up: SLURM already running on $NODE"
    exit 0
fi

# munge: the key comes with the package; /run/munge does not exist without systemd.
install -d -o munge -g munge -m 0755 /run/munge
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
    runuser -u munge -- /usr/sbin/munged
fi
munge -n | unmunge | grep -q 'STATUS: *Success' || die "munge does not work"

mkdir -p "$SCRATCH/state" "$SCRATCH/spool" "$SCRATCH/log"

# CPUs=16 on a smaller machine so a pool of 16 1-core workers fits at once;
# config_overrides keeps slurmd from marking the node invalid for it.
read -r REAL_MEM < <(slurmd -C | sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p')
MEM=$(( REAL_MEM * 95 / 100 ))
CPUS="${DFM_SLURM_CPUS:-16}"

mkdir -p /etc/slurm
cat > "$CONF" <<CONF
# Written by dfm's scripts/slurm-up.sh: a one-node test cluster.
ClusterName=dfmtest
SlurmctldHost=$NODE(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$SCRATCH/log/jobcomp.txt
SwitchType=switch/none
MpiDefault=none
MailProg=/bin/true
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
SchedulerParameters=batch_sched_delay=0
SlurmdParameters=config_overrides
StateSaveLocation=$SCRATCH/state
SlurmdSpoolDir=$SCRATCH/spool
SlurmctldPidFile=$SCRATCH/slurmctld.pid
SlurmdPidFile=$SCRATCH/slurmd.pid
SlurmctldLogFile=$SCRATCH/log/slurmctld.log
SlurmdLogFile=$SCRATCH/log/slurmd.log
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$CPUS Boards=1 SocketsPerBoard=1 CoresPerSocket=$CPUS ThreadsPerCore=1 RealMemory=$MEM
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
# A license SLURM counts, for the test of license_scope: worker.
Licenses=sim_seat:2
CONF

slurmctld
slurmd -N "$NODE"

for _ in $(seq 1 300); do
    if [ "$(sinfo -h -n "$NODE" -o %T 2>/dev/null)" = idle ]; then
        echo "slurm-up: SLURM running on $NODE (logs in $SCRATCH/log)"
        exit 0
    fi
    sleep 0.1
done
sinfo >&2 || true
tail -n 20 "$SCRATCH/log/slurmctld.log" "$SCRATCH/log/slurmd.log" >&2 || true
die "the node did not become idle within 30 s"
