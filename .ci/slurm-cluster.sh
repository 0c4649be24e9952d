# Sourced by .ci/slurm-sweep: brings up a one-node Slurm cluster on this machine (Debian's
# slurm-wlm and munge) and tears it down. Everything lives in $SLURM_CI_DIR; only the daemons
# started here are stopped, by pid.
#   slurm_install      apt-get slurm-wlm and munge when sbatch is missing
#   slurm_up DIR       munged, slurmctld, slurmd; waits until the node is idle
#   slurm_down         stops them (trap it on EXIT)

slurm_install() {
  if command -v sbatch >/dev/null && command -v slurmctld >/dev/null && command -v munged >/dev/null; then
    return 0
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq slurm-wlm munge >/dev/null
}

slurm_up() {
  export SLURM_CI_DIR="$1"
  local d="$SLURM_CI_DIR"
  mkdir -p "$d/state" "$d/spool" "$d/munge/run" "$d/munge/log" "$d/munge/lib"
  # The munge user must reach its folders (mktemp -d makes a 0700 parent).
  chmod 755 "$d" "$(dirname "$d")"
  local host cpus mem_mb
  host="$(hostname -s)"
  cpus="$(nproc)"
  # Leave 2 GiB to the system.
  mem_mb="$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 2048 ))"

  # munge: its own key, socket and pid file in the temporary folder, run as the munge user.
  chown -R munge:munge "$d/munge"
  chmod 700 "$d/munge/lib" "$d/munge/log"
  chmod 755 "$d/munge/run"
  runuser -u munge -- mungekey -c -f -k "$d/munge/lib/munge.key"
  runuser -u munge -- munged -S "$d/munge/run/munge.socket" \
    --key-file "$d/munge/lib/munge.key" \
    --pid-file "$d/munge/run/munged.pid" \
    --log-file "$d/munge/log/munged.log" \
    --seed-file "$d/munge/lib/munged.seed"
  for _ in $(seq 50); do [ -s "$d/munge/run/munged.pid" ] && break; sleep 0.1; done

  cat >"$d/slurm.conf" <<CONF
ClusterName=kleeneci
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$d/munge/run/munge.socket
CredType=cred/munge
StateSaveLocation=$d/state
SlurmdSpoolDir=$d/spool
SlurmctldPidFile=$d/slurmctld.pid
SlurmdPidFile=$d/slurmd.pid
SlurmctldLogFile=$d/slurmctld.log
SlurmdLogFile=$d/slurmd.log
SlurmctldPort=6817
SlurmdPort=6818
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
KillWait=30
MinJobAge=3600
SchedulerParameters=sched_interval=2
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=ci Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
  export SLURM_CONF="$d/slurm.conf"
  slurmctld -D -f "$SLURM_CONF" >"$d/slurmctld.out" 2>&1 &
  echo $! >"$d/slurmctld.started"
  slurmd -D -f "$SLURM_CONF" >"$d/slurmd.out" 2>&1 &
  echo $! >"$d/slurmd.started"
  for _ in $(seq 120); do
    if sinfo -h -o '%t' 2>/dev/null | grep -qx 'idle'; then
      sinfo
      return 0
    fi
    sleep 0.5
  done
  echo "slurm did not come up; logs:" >&2
  tail -n 30 "$d"/*.log "$d"/*.out "$d/munge/log/munged.log" >&2 || true
  return 1
}

slurm_down() {
  local d="${SLURM_CI_DIR:-}"
  [ -n "$d" ] || return 0
  local f pid
  for f in "$d/slurmd.started" "$d/slurmctld.started" "$d/munge/run/munged.pid"; do
    [ -s "$f" ] || continue
    pid="$(cat "$f")"
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  done
}
