#!/usr/bin/env bash
# Starts a single-node SLURM cluster on this machine, for tests and for trying
# `robofleet sweep --backend slurm` without a cluster: munged, slurmctld and
# slurmd from Debian's munge and slurm-wlm packages, with a slurm.conf written
# for this host (its hostname, CPUs and memory as slurmd itself reports them).
#
#   scripts/ci/start_slurm.sh          # as root; returns once sinfo shows the node up
#
# Safe to run again, and from several processes at once: it starts only what
# is not running and rewrites slurm.conf only when this host's facts changed.
# It will not overwrite a slurm.conf that it did not write (a real cluster's).
# Exit status: 0 up; 1 failed (the daemon logs are named); 3 slurm is missing.
set -euo pipefail

conf_dir=/etc/slurm
conf="$conf_dir/slurm.conf"
state_dir=/var/lib/slurm-robofleet
log_dir=/var/log/slurm-robofleet
marker="# written by robofleet scripts/ci/start_slurm.sh"

for tool in munged slurmctld slurmd sinfo scontrol; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "start_slurm.sh: $tool not found; install slurm-wlm munge (scripts/setup.sh does)" >&2
    exit 3
  fi
done
if [[ $(id -u) -ne 0 ]]; then
  echo "start_slurm.sh: must run as root (it starts munged, slurmctld and slurmd)" >&2
  exit 1
fi

# one caller at a time: parallel tests may all ask for the cluster
exec 8>/run/robofleet-start-slurm.lock
flock 8

alive() {  # alive PIDFILE NAME: the daemon that wrote it still runs (not a reused pid)
  [[ -s "$1" ]] && [[ "$(cat "/proc/$(cat "$1")/comm" 2>/dev/null)" == "$2" ]]
}

# munge: the authentication every SLURM message carries
if ! munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1; then
  install -d -o munge -g munge -m 0700 /etc/munge /var/log/munge
  install -d -o munge -g munge -m 0711 /var/lib/munge
  install -d -o munge -g munge -m 0755 /run/munge
  if [[ ! -s /etc/munge/munge.key ]]; then
    dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
  fi
  chown munge:munge /etc/munge/munge.key
  chmod 0400 /etc/munge/munge.key
  runuser -u munge -- /usr/sbin/munged 8>&-
  for _ in $(seq 100); do
    munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1 && break
    sleep 0.1
  done
  if ! munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1; then
    echo "start_slurm.sh: munged did not start; see /var/log/munge/munged.log" >&2
    exit 1
  fi
fi

# slurm.conf for this host; the node's line is what slurmd detects here
host=$(hostname -s)
node_line=$(slurmd -C | head -n 1 | sed "s/^NodeName=[^ ]*/NodeName=$host/")
new_conf=$(cat <<EOF
$marker
ClusterName=robofleet
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$state_dir/ctld
SlurmdSpoolDir=$state_dir/d
SlurmctldPidFile=/run/slurmctld-robofleet.pid
SlurmdPidFile=/run/slurmd-robofleet.pid
SlurmctldLogFile=$log_dir/slurmctld.log
SlurmdLogFile=$log_dir/slurmd.log
SlurmctldPort=6817
SlurmdPort=6818
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=2,bf_interval=2
MpiDefault=none
ReturnToService=2
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
KillWait=10
# finished jobs leave the controller after 5 s: sbatch --wait then polls
# every 2 s instead of backing off to 32 s
MinJobAge=5
$node_line NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
)
if [[ -e "$conf" ]] && ! grep -qxF "$marker" "$conf"; then
  echo "start_slurm.sh: $conf exists and was not written by this script; not touching it" >&2
  exit 1
fi
changed=0
if [[ ! -e "$conf" ]] || [[ "$(cat "$conf")" != "$new_conf" ]]; then
  install -d "$conf_dir"
  printf '%s\n' "$new_conf" >"$conf.tmp"
  mv "$conf.tmp" "$conf"
  changed=1
fi
install -d "$state_dir/ctld" "$state_dir/d" "$log_dir"

# restart daemons that run with an old config; start those that are missing
if ((changed)); then
  for daemon in slurmd slurmctld; do
    pidfile=/run/$daemon-robofleet.pid
    if alive "$pidfile" "$daemon"; then
      pid=$(cat "$pidfile")
      kill "$pid"
      for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    fi
  done
fi
# (the daemons must not inherit the lock above, or they would hold it forever)
alive /run/slurmctld-robofleet.pid slurmctld || slurmctld 8>&-
alive /run/slurmd-robofleet.pid slurmd || slurmd 8>&-

# wait until the controller answers and the node takes jobs
up=0
for _ in $(seq 300); do
  state=$(sinfo -h -N -n "$host" -o %t 2>/dev/null | head -n 1 || true)
  case "$state" in
    idle | mix | alloc | comp) up=1; break ;;
    down* | drain* | drng*) scontrol update NodeName="$host" State=RESUME >/dev/null 2>&1 || true ;;
  esac
  sleep 0.2
done
if ((!up)); then
  echo "start_slurm.sh: node $host did not come up (state '${state:-none}'); see $log_dir/slurmctld.log and $log_dir/slurmd.log" >&2
  exit 1
fi
echo "start_slurm.sh: SLURM is up: node $host ($(sinfo -h -N -n "$host" -o '%c CPUs, %m MB, %t'))"
