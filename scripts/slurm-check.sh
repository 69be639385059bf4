#!/usr/bin/env bash
# Scale-out on a real scheduler. Starts a single-node Slurm cluster on localhost from Debian's
# packages (slurmctld, slurmd, munge: installed when missing, apt retried while locked), makes a tiny
# checkpoint with `losscape train`, and runs the Slurm example of docs/LANDSCAPE.md as written there
# (its job-array script and its two sbatch lines; `npx losscape` becomes this checkout's
# bin/losscape.mjs and the grid is made small): a landscape as a job array of shards with --resume
# and a merge job that depends on it. One array task is stopped mid-run and requeued (scontrol
# requeue); it must resume from its partial file. The merged surface must equal an unsharded run's,
# point for point. The daemons this script started are stopped at the end.
# Prints "slurm-check: passed" or "slurm-check: FAILED: why"; exit status 0 or 1. About a minute once
# the packages are in. Usage (as root): bash scripts/slurm-check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
work=$(mktemp -d /tmp/losscape-slurm.XXXXXX)
losscape="node $repo/bin/losscape.mjs"
started=()
passed=0

fail() { echo "slurm-check: FAILED: $* (logs in $work)" >&2; exit 1; }
say() { echo "slurm-check: $*" >&2; }
cleanup() {
  [ -n "${SLURM_CONF:-}" ] && scancel --quiet --user=root 2>/dev/null || true
  for pidfile in "${started[@]}"; do [ -s "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null || true; done
  sleep 1
  if [ "$passed" = 1 ]; then rm -rf "$work"; fi
}
trap cleanup EXIT

# 1. packages
# shellcheck source=scripts/apt-retry.sh
source scripts/apt-retry.sh
missing=()
for p in slurmctld slurmd slurm-client munge; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  [ "$(id -u)" = 0 ] || fail "run as root to install ${missing[*]}"
  say "installing ${missing[*]}"
  apt_retry update -q >/dev/null
  apt_retry install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi

# 2. munge: its key (the package makes one), then the daemon unless one answers already
[ -s /etc/munge/munge.key ] || { mungekey --create --keyfile=/etc/munge/munge.key && chown munge:munge /etc/munge/munge.key && chmod 0400 /etc/munge/munge.key; }
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
  install -d -o munge -g munge -m 0755 /run/munge
  runuser -u munge -- /usr/sbin/munged
  started+=(/run/munge/munged.pid)
  for _ in $(seq 1 50); do munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.1; done
  munge -n | unmunge >/dev/null || fail "munged does not answer"
fi

# 3. slurm.conf for this node: its real CPUs and memory (slurmd -C), root as the Slurm user, no cgroups
node=$(hostname -s)
hardware=$(slurmd -C | head -1 | sed 's/^NodeName=[^ ]* //')
mkdir -p "$work/state" "$work/spool"
cat > "$work/slurm.conf" <<EOF
ClusterName=losscape
SlurmctldHost=$node(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
# a requeued job waits for the old job credential to expire before it starts again (default 120 s)
AuthInfo=cred_expire=10
CredType=cred/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
ReturnToService=2
JobRequeue=1
MinJobAge=600
KillWait=5
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool
SlurmctldPidFile=$work/slurmctld.pid
SlurmdPidFile=$work/slurmd.pid
SlurmctldLogFile=$work/slurmctld.log
SlurmdLogFile=$work/slurmd.log
NodeName=$node NodeAddr=127.0.0.1 $hardware State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF=$work/slurm.conf
slurmctld -f "$SLURM_CONF"
started+=("$work/slurmctld.pid")
slurmd -f "$SLURM_CONF" -N "$node"
started+=("$work/slurmd.pid")
for _ in $(seq 1 100); do [ "$(sinfo -h -o %T 2>/dev/null)" = idle ] && break; sleep 0.2; done
[ "$(sinfo -h -o %T)" = idle ] || fail "the node did not come up: $(sinfo 2>&1; tail -5 "$work/slurmd.log" "$work/slurmctld.log")"
say "cluster up: $node, $hardware"

# 4. a tiny checkpoint, and the surface the shards must add up to
cd "$work"
$losscape train --model mlp --train-subset 512 --test-subset 128 --epochs 1 --out run >/dev/null 2>train.log || fail "losscape train: $(tail -3 train.log)"
cp run/checkpoint.safetensors ckpt.safetensors
cp run/checkpoint.safetensors.json ckpt.safetensors.json

# 5. the docs' example: the job-array script and the submission lines, smaller
small='--steps 13 --samples 200 --chunk 2'
docs_block() { awk -v n="$1" '/^### Slurm job arrays/{s=1} s&&/^```sh/{c++; if(c==n){p=1; next}} p&&/^```/{exit} p' "$repo/docs/LANDSCAPE.md"; }
adapt() { sed -e "s#npx losscape#$losscape#g" -e "s#--steps 101#$small#g"; }
docs_block 1 | adapt > shards.sh
docs_block 2 | adapt > submit.sh
grep -q -- '--shard "$SLURM_ARRAY_TASK_ID/8" --resume' shards.sh || fail "docs/LANDSCAPE.md: no job-array script with --shard and --resume found"
grep -q 'dependency=afterok' submit.sh || fail "docs/LANDSCAPE.md: no dependent merge job found"
$losscape landscape --checkpoint ckpt.safetensors --plan plane $small --out whole/plane >/dev/null 2>whole.log || fail "unsharded landscape: $(tail -3 whole.log)"
# shellcheck disable=SC1091
source submit.sh > submitted.txt
[ -n "${jobid:-}" ] || fail "submit.sh set no \$jobid"
say "array job $jobid submitted, merge job $(awk '{print $NF}' submitted.txt)"

# 6. stop the last array task mid-run (some of its points saved, not all) and requeue it
victim=7
part=results/plane.shard-$victim-of-8.json
due=$(( (13 * 13 - 1 - victim) / 8 + 1 ))
done_points() { [ -s "$part" ] && grep -o '"[0-9]*":\[' "$part" | wc -l || echo 0; }
caught=''
for _ in $(seq 1 1200); do
  if [ "$(squeue -h -j "${jobid}_$victim" -o %T 2>/dev/null)" = RUNNING ]; then
    n=$(done_points)
    if [ "$n" -gt 0 ] && [ "$n" -lt "$due" ]; then caught=$n; break; fi
  fi
  sleep 0.05
done
[ -n "$caught" ] || fail "array task $victim was not caught mid-run"
scontrol requeue "${jobid}_$victim"
say "task $victim stopped after $caught of its $due points and requeued"

# 7. wait for the merge job, then compare
merge=$(awk '{print $NF}' submitted.txt)
for _ in $(seq 1 900); do
  state=$(scontrol show job "$merge" 2>/dev/null | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p')
  case "$state" in COMPLETED) break ;; FAILED|CANCELLED*|TIMEOUT|NODE_FAIL|OUT_OF_MEMORY) fail "merge job $merge: $state: $(cat slurm-"$merge".out 2>/dev/null)" ;; esac
  sleep 0.2
done
[ "$state" = COMPLETED ] || fail "merge job $merge did not complete (state ${state:-unknown}): $(squeue 2>&1)"
restarts=$(scontrol show job "${jobid}_$victim" | sed -n 's/.*Restarts=\([0-9]*\).*/\1/p')
[ "${restarts:-0}" -ge 1 ] || fail "task $victim was not restarted"
grep -q '"resumed":[1-9]' "slurm-${jobid}_$victim.out" || fail "task $victim did not resume from its partial file: $(cat "slurm-${jobid}_$victim.out")"
node -e '
  const [a, b] = process.argv.slice(1).map((f) => JSON.parse(require("fs").readFileSync(f, "utf8")));
  const same = JSON.stringify([a.x, a.y, a.loss, a.accuracy]) === JSON.stringify([b.x, b.y, b.loss, b.accuracy]);
  if (!same) { console.error("merged surface differs from the unsharded run"); process.exit(1); }
  console.error(`slurm-check: merged ${a.x.length}x${a.y.length} surface equals the unsharded run point for point`);
' whole/plane.json results/plane.json || fail "surfaces differ"
passed=1
say "passed"
