#!/usr/bin/env bash
# Start a one-node SLURM cluster on this machine for the `slurm` tests (tests/study/test_slurm.py):
# munge, MariaDB, slurmdbd (accounting: sacct, which submitit reads job states from),
# slurmctld and slurmd, without systemd. Needs root (writes /etc/slurm/slurm.conf, where
# sbatch/sacct look for it). Installs Debian's packages when they are missing. Idempotent: a
# cluster this script already started is restarted with the current configuration.
# Stop it with tests/cluster/stop.sh. State, logs and pid files: $STUDYKIT_CLUSTER_DIR
# (default /tmp/studykit-cluster).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
state="${STUDYKIT_CLUSTER_DIR:-/tmp/studykit-cluster}"
if [ "$(id -u)" != "0" ]; then
  echo "tests/cluster/start.sh: needs root (it writes /etc/slurm and starts the daemons)" >&2
  exit 1
fi

need=()
for tool in munged slurmctld slurmd slurmdbd mariadbd sbatch sacct; do
  command -v "$tool" >/dev/null || need+=("$tool")
done
if [ "${#need[@]}" -gt 0 ]; then
  echo "installing slurm-wlm, slurmdbd, mariadb-server, munge (missing: ${need[*]})"
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=900 update -qq
  apt-get -o DPkg::Lock::Timeout=900 install -y -qq slurm-wlm slurmdbd mariadb-server munge >/dev/null
fi

"$here/stop.sh" --quiet || true
mkdir -p "$state"/{ctld,d,log} /etc/slurm /run/munge /run/mysqld
host="$(hostname -s)"
node="$(slurmd -C | head -n1)"   # NodeName=<host> CPUs=… RealMemory=… (this machine as slurmd sees it)

cat > /etc/slurm/slurm.conf <<CONF
# written by studykit tests/cluster/start.sh: a one-node test cluster
ClusterName=studykit
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$state/ctld
SlurmdSpoolDir=$state/d
SlurmctldPidFile=$state/slurmctld.pid
SlurmdPidFile=$state/slurmd.pid
SlurmctldLogFile=$state/log/slurmctld.log
SlurmdLogFile=$state/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MinJobAge=3600
DependencyParameters=kill_invalid_depend
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=$host
JobCompType=jobcomp/none
MpiDefault=none
$node State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF

cat > /etc/slurm/slurmdbd.conf <<CONF
# written by studykit tests/cluster/start.sh
AuthType=auth/munge
DbdHost=$host
SlurmUser=root
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageUser=root
StorageLoc=slurm_acct_db
PidFile=$state/slurmdbd.pid
LogFile=$state/log/slurmdbd.log
CONF
chmod 600 /etc/slurm/slurmdbd.conf

# munge: its socket folder is not made at boot without systemd; munged runs as the munge user
chown munge:munge /run/munge
[ -s /etc/munge/munge.key ] || mungekey --create --keyfile=/etc/munge/munge.key
chown munge:munge /etc/munge/munge.key && chmod 400 /etc/munge/munge.key
su -s /bin/sh munge -c "munged --pid-file=/run/munge/munged.pid"

# MariaDB: slurmdbd connects as root over the socket (unix_socket authentication)
chown mysql:mysql /run/mysqld
touch "$state/log/mariadb.log" && chown mysql:mysql "$state/log/mariadb.log"
mariadbd --user=mysql --pid-file=/run/mysqld/studykit.pid --log-error="$state/log/mariadb.log" \
  >>"$state/log/mariadb.log" 2>&1 </dev/null &
for _ in $(seq 100); do mariadb -e "select 1" >/dev/null 2>&1 && break; sleep 0.1; done
mariadb -e "select 1" >/dev/null

slurmdbd
for _ in $(seq 100); do sacctmgr -n list cluster >/dev/null 2>&1 && break; sleep 0.1; done
sacctmgr -i -Q add cluster studykit >/dev/null 2>&1 || true

slurmctld
slurmd
for _ in $(seq 200); do
  sinfo -h -o "%t" 2>/dev/null | grep -qE "^(idle|mix|alloc)" && break
  sleep 0.1
done
if ! sinfo -h -o "%t" | grep -qE "^(idle|mix|alloc)"; then
  echo "tests/cluster/start.sh: the node did not come up; logs in $state/log" >&2
  sinfo >&2 || true
  exit 1
fi
echo "SLURM test cluster up: $(sinfo -h -o '%P %D %c cpus %t')"
