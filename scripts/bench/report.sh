# Sourced by scripts/bench.sh: the markdown report of $results.

report() {
  local set
  echo "# banger bench results"
  echo
  echo "- date: $(date -u +%Y-%m-%dT%H:%MZ); mode: $([ "$quick" = 1 ] && echo 'BENCH_QUICK=1' || echo full); rounds: $rounds (order rotated per round; medians)"
  echo "- machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), $(. /etc/os-release && echo "$PRETTY_NAME"), kernel $(uname -r), $(go version | awk '{ print $3 }'), $(mkfs.ext4 -V 2>&1 | head -n1), $(skopeo --version), umoci $(umoci --version | awk '{ print $NF }')"
  echo "- load average at the end: $(cut -d' ' -f1-3 /proc/loadavg) (the machine is shared: expect noise)"
  echo "- e2fsck -fn passed on all $fsck_count images produced by banger and our writer"
  echo
  echo "## Images"
  echo
  echo "| ref | gzip layers MiB | tar MiB |"
  echo "|---|---:|---:|"
  while IFS=$'\t' read -r r _ z; do
    echo "| ${r#*/} | $(awk -v b="$z" 'BEGIN { printf "%.1f", b / 1048576 }') | $(tar_mib "$r") |"
  done <"$work/pushed.tsv"
  echo
  echo "## Times"
  echo
  median_table
  echo
  echo "## Ratios (medians)"
  echo
  echo "| image | ratio | value |"
  echo "|---|---|---|"
  for set in "${sets[@]}"; do
    ratio "$set" "d banger pull, cold" "a seed pipeline (a.1+a.2+a.3)" "banger cold / seed"
    ratio "$set" "d banger pull, cold" "c floor: gunzip layers (Go klauspost)" "banger cold / floor"
    ratio "$set" "e banger pull, warm (same digest)" "d banger pull, cold" "warm / cold"
    ratio "$set" "f banger pull, 2nd image sharing base" "d banger pull, cold" "2nd image / cold"
    ratio "$set" "g engine: blobs → flatten → ext4" "a seed pipeline (a.1+a.2+a.3)" "engine / seed"
    ratio "$set" "g engine: blobs → flatten → ext4" "c floor: gunzip layers (Go klauspost)" "engine / floor"
    ratio "$set" "w3 our writer (tar → flatten → ext4)" "w2 mkfs.ext4 -d (tree ready)" "writer / mkfs -d"
    ratio "$set" "w3 our writer (tar → flatten → ext4)" "w1 tar -x + mkfs.ext4 -d" "writer / (tar -x + mkfs -d)"
  done
  if [ -s "$notes" ]; then
    echo
    echo "## Skipped"
    echo
    cat "$notes"
  fi
}

# tar_mib REF: the uncompressed size the floor measured for REF's set.
tar_mib() {
  local set=${1##*/bench/}
  set=${set%%:*}
  if [ "${1##*:}" = b ] || [ ! -f "$work/$set.tar-bytes" ]; then echo "-"; return; fi
  awk -v b="$(cat "$work/$set.tar-bytes")" 'BEGIN { printf "%.1f", b / 1048576 }'
}
