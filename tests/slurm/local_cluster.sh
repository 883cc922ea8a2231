#!/usr/bin/env bash
# A single-node Slurm cluster on this machine, for the slow Slurm test:
#   sudo bash tests/slurm/local_cluster.sh [start|stop]
# Installs Debian's slurmctld, slurmd, slurm-client and munge if missing,
# writes /etc/slurm/slurm.conf for this host's CPUs (CPU-only, one partition
# "debug", no accounting) and starts munged, slurmctld and slurmd. Needs
# root. Idempotent: a running cluster is left as it is.
set -euo pipefail
action=${1:-start}

if [ "$action" = stop ]; then
  pkill -x slurmd || true
  pkill -x slurmctld || true
  pkill -x munged || true
  exit 0
fi

if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends \
    slurmctld slurmd slurm-client munge >/dev/null
fi

if ! pgrep -x munged >/dev/null; then
  [ -s /etc/munge/munge.key ] || mungekey --create --force
  mkdir -p /run/munge && chown munge:munge /run/munge /etc/munge/munge.key
  chmod 0400 /etc/munge/munge.key
  runuser -u munge -- munged
fi

host=$(hostname -s)
node=$(slurmd -C | head -n 1)  # NodeName=<host> CPUs=... RealMemory=...
mkdir -p /etc/slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm
cat > /etc/slurm/slurm.conf <<CONF
ClusterName=mmseg-trf
SlurmctldHost=$host
AuthType=auth/munge
SlurmUser=root
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
ReturnToService=2
MinJobAge=300
$node State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF

pgrep -x slurmctld >/dev/null || slurmctld
pgrep -x slurmd >/dev/null || slurmd
for _ in $(seq 30); do
  if sinfo --noheader --format=%t 2>/dev/null | grep -qE '^(idle|mix|alloc)'; then
    sinfo
    exit 0
  fi
  sleep 1
done
echo "Slurm did not come up; see /var/log/slurm/" >&2
exit 1
