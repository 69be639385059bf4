# apt_retry: apt-get with retries while another job holds /var/lib/dpkg/lock or
# /var/lib/apt/lists/lock (up to 10 minutes; apt-get update ignores DPkg::Lock::Timeout).
# Sourced by scripts/setup.sh and scripts/slurm-check.sh.
apt_retry() {
  local log; log=$(mktemp)
  for _ in $(seq 1 60); do
    if DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=10 "$@" 2>"$log"; then rm -f "$log"; return 0; fi
    if grep -qiE 'could not get lock|unable to lock|is another process using it' "$log"; then
      echo "apt: locked by another job; waiting" >&2; sleep 10
    else
      cat "$log" >&2; rm -f "$log"; return 1
    fi
  done
  cat "$log" >&2; rm -f "$log"; echo "apt: stayed locked for 10 minutes" >&2; return 1
}
