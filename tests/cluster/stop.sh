#!/usr/bin/env bash
# Stop the test cluster that tests/cluster/start.sh started: each daemon by the pid in its pid
# file (slurmd, slurmctld, slurmdbd, MariaDB, munged), waiting until it is gone.
# `--quiet`: say nothing when nothing runs.
set -uo pipefail
state="${STUDYKIT_CLUSTER_DIR:-/tmp/studykit-cluster}"
quiet="${1:-}"
stopped=0
for pidfile in "$state/slurmd.pid" "$state/slurmctld.pid" "$state/slurmdbd.pid" \
               /run/mysqld/studykit.pid /run/munge/munged.pid; do
  [ -s "$pidfile" ] || continue
  pid="$(cat "$pidfile")"
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    for _ in $(seq 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
    stopped=$((stopped + 1))
  fi
  rm -f "$pidfile"
done
[ "$quiet" = "--quiet" ] || echo "SLURM test cluster stopped ($stopped daemons)"
