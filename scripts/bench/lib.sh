# Helpers for scripts/bench.sh (sourced). Results go to $results as
# tab-separated lines: set contender round seconds peak_rss_kib.

say() { printf '\033[1m== %s\033[0m\n' "$*" >&2; }

# now: seconds since the epoch with nanoseconds.
now() { date +%s.%N; }

# record SET CONTENDER ROUND SECONDS RSS_KIB
record() { printf '%s\t%s\t%s\t%s\t%s\n' "$@" >>"$results"; }

# timed SET CONTENDER ROUND CMD...: runs CMD under /usr/bin/time (peak RSS
# of it and its children), records its wall time and prints "SECONDS RSS_KIB".
# The bench stops if CMD fails.
timed() {
  local set=$1 contender=$2 round=$3 t0 t1 s rss
  shift 3
  t0=$(now)
  if ! /usr/bin/time -f %M -o "$work/time.out" "$@" >"$work/last.out" 2>"$work/last.err"; then
    echo "bench: $contender on $set failed: $*" >&2
    cat "$work/last.err" >&2
    exit 1
  fi
  t1=$(now)
  rss=$(tail -n1 "$work/time.out")
  if [ -n "${rss_pid:-}" ]; then
    rss=$(awk '/^VmHWM:/ { print $2 }' "/proc/$rss_pid/status")
  fi
  s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
  record "$set" "$contender" "$round" "$s" "$rss"
  echo "$s $rss"
}

# sum_record SET CONTENDER ROUND "S RSS"...: records the sum of the seconds
# and the largest RSS of several timed steps as one contender.
sum_record() {
  local set=$1 contender=$2 round=$3
  shift 3
  read -r s rss < <(printf '%s\n' "$@" | awk '{ s += $1; if ($2 > r) r = $2 } END { printf "%.3f %d\n", s, r }')
  record "$set" "$contender" "$round" "$s" "$rss"
}

# tool_field KEY FILE: the value of KEY=... in a bench tool's output line.
tool_field() { tr ' ' '\n' <"$2" | awk -F= -v k="$1" '$1 == k { print $2 }'; }

# fsck_gate IMG...: e2fsck -fn must pass on every image, or the bench stops.
fsck_gate() {
  local img
  for img in "$@"; do
    if ! e2fsck -fn "$img" >"$work/fsck.out" 2>&1; then
      echo "bench: e2fsck -fn failed on $img; aborting" >&2
      cat "$work/fsck.out" >&2
      exit 1
    fi
    fsck_count=$((fsck_count + 1))
  done
}

# median_table: the summary of $results as a markdown table.
median_table() {
  echo "| image | contender | median s | min s | max s | peak RSS MiB | rounds |"
  echo "|---|---|---:|---:|---:|---:|---:|"
  sort -t$'\t' -k1,1 -k2,2 -k4,4g "$results" | awk -F'\t' '
    function flush() {
      if (n == 0) return
      m = (n % 2) ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
      printf "| %s | %s | %.2f | %.2f | %.2f | %.0f | %d |\n", set, c, m, v[1], v[n], rss / 1024, n
      n = 0; rss = 0
    }
    $1 != set || $2 != c { flush(); set = $1; c = $2 }
    { v[++n] = $4; if ($5 > rss) rss = $5 }
    END { flush() }'
}

# median SET CONTENDER: the median seconds, or empty.
median() {
  awk -F'\t' -v s="$1" -v c="$2" '$1 == s && $2 == c { print $4 }' "$results" | sort -g | awk '
    { v[++n] = $1 } END { if (n) print (n % 2) ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2 }'
}

# ratio SET A B LABEL: prints "| SET | LABEL | A/B |" when both medians exist.
ratio() {
  local a b
  a=$(median "$1" "$2")
  b=$(median "$1" "$3")
  [ -n "$a" ] && [ -n "$b" ] || return 0
  awk -v s="$1" -v l="$4" -v a="$a" -v b="$b" 'BEGIN { printf "| %s | %s | %.2f× (%.2f s / %.2f s) |\n", s, l, a / b, a, b }'
}
