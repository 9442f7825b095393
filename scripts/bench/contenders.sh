# Sourced by scripts/bench.sh: the contenders, run per image set.

skopeo_copy() { skopeo copy -q --src-tls-verify=false "docker://$1" "oci:$2:bench"; }
tar_opts=(--numeric-owner --xattrs --xattrs-include='*')

# bench_set SET: every round runs each contender once, rotating the order.
bench_set() {
  local set=$1 r i c order
  ref=$(awk -F'\t' -v s="/bench/$set:" 'index($1, s) { print $1; exit }' "$work/pushed.tsv")
  ref2=''
  [ "$set" = debian ] && ref2=$(awk -F'\t' 'index($1, "/bench/debian:b") { print $1 }' "$work/pushed.tsv")
  sd=$work/$set
  mkdir -p "$sd"
  skopeo_copy "$ref" "$sd/ref"
  mapfile -t blobs < <("$work/bin/bench-gunzip" -layout "$sd/ref" -print)
  order=(seed copy floor engine banger)
  for r in $(seq "$rounds"); do
    say "$set: round $r of $rounds"
    for i in "${!order[@]}"; do
      c=${order[$(((i + r - 1) % ${#order[@]}))]}
      "run_$c" "$set" "$r"
    done
  done
  writer_rounds "$set"
  rm -rf "$sd"
}

run_seed() {
  local x=$sd/seed s1 s2 s3
  rm -rf "$x" && mkdir -p "$x"
  s1=$(timed "$1" "a.1 skopeo copy" "$2" skopeo copy -q --src-tls-verify=false "docker://$ref" "oci:$x/oci:bench")
  s2=$(timed "$1" "a.2 umoci unpack --rootless" "$2" umoci unpack --rootless --image "$x/oci:bench" "$x/bundle")
  s3=$(timed "$1" "a.3 find + mkfs.ext4 -d" "$2" "$repo/scripts/bench/mkfs-tree.sh" "$x/bundle/rootfs" "$x/img")
  sum_record "$1" "a seed pipeline (a.1+a.2+a.3)" "$2" "$s1" "$s2" "$s3"
  rm -rf "$x"
}

run_copy() {
  rm -rf "$sd/copy"
  timed "$1" "b skopeo copy" "$2" skopeo copy -q --src-tls-verify=false "docker://$ref" "oci:$sd/copy:bench" >/dev/null
  rm -rf "$sd/copy"
}

run_floor() {
  timed "$1" "c floor: gunzip layers (Go klauspost)" "$2" "$work/bin/bench-gunzip" "${blobs[@]}" >/dev/null
  tool_field bytes "$work/last.out" >"$work/$1.tar-bytes"
}

run_engine() {
  [ "$have_engine" = 1 ] || return 0
  timed "$1" "g engine: blobs → flatten → ext4" "$2" "$work/bin/bench-tar2ext4" -o "$sd/g.img" "${blobs[@]}" >/dev/null
  fsck_gate "$sd/g.img"
  rm -f "$sd/g.img"
}

# run_banger: a fresh daemon (start-up timed apart), then cold, warm and
# second-image pulls through the CLI; RSS is the daemon's VmHWM.
run_banger() {
  [ "$have_pull" = 1 ] || return 0
  local x=$sd/xdg.$2 t0 t1 imgs
  rm -rf "$x" && mkdir -p "$x/home" "$x/run" && chmod 0700 "$x/run"
  benv=(env HOME="$x/home" XDG_STATE_HOME="$x/state" XDG_CACHE_HOME="$x/cache" XDG_RUNTIME_DIR="$x/run")
  t0=$(now)
  "${benv[@]}" "$bin/banger" daemon run >"$x/daemon.log" 2>&1 &
  daemon_pid=$!
  until "${benv[@]}" "$bin/banger" daemon status >/dev/null 2>&1; do
    kill -0 "$daemon_pid" 2>/dev/null || { echo "bench: daemon died:" >&2; cat "$x/daemon.log" >&2; exit 1; }
    sleep 0.02
  done
  t1=$(now)
  record "$1" "d0 daemon start-up" "$2" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')" \
    "$(awk '/^VmHWM:/ { print $2 }' "/proc/$daemon_pid/status")"
  rss_pid=$daemon_pid
  timed "$1" "d banger pull, cold" "$2" "${benv[@]}" "$bin/banger" image pull "${pull_flags[@]}" "$ref" >/dev/null
  timed "$1" "e banger pull, warm (same digest)" "$2" "${benv[@]}" "$bin/banger" image pull "${pull_flags[@]}" "$ref" >/dev/null
  [ -z "$ref2" ] || timed "$1" "f banger pull, 2nd image sharing base" "$2" "${benv[@]}" "$bin/banger" image pull "${pull_flags[@]}" "$ref2" >/dev/null
  rss_pid=''
  mapfile -t imgs < <(find "$x/state" -name '*.ext4' -type f)
  [ "${#imgs[@]}" -gt 0 ] || { echo "bench: banger image pull left no .ext4 under $x/state" >&2; exit 1; }
  fsck_gate "${imgs[@]}"
  "${benv[@]}" "$bin/banger" daemon stop >/dev/null 2>&1 || kill "$daemon_pid" 2>/dev/null || true
  wait "$daemon_pid" 2>/dev/null || true
  daemon_pid=''
  rm -rf "$x"
}

# writer_rounds SET: the ext4 writer alone against mkfs.ext4 -d, on one tar
# of the image's tree and that tar extracted (untimed) once. The tar is the
# layer itself for one-layer images, and a GNU tar of $tree for debian (so
# without the delta layer, and with the tree's few device nodes).
writer_rounds() {
  local set=$1 t=$sd/tree r i c order
  rm -rf "$t" && mkdir -p "$t/ready"
  if [ "$set" = debian ]; then
    tar "${tar_opts[@]}" -C "$tree" -cf "$t/tree.tar" .
  else
    gzip -dc "${blobs[@]}" >"$t/tree.tar"
  fi
  tar "${tar_opts[@]}" -xf "$t/tree.tar" -C "$t/ready"
  order=(w1 w2 w3)
  for r in $(seq "$rounds"); do
    say "$set: writer round $r of $rounds"
    for i in "${!order[@]}"; do
      c=${order[$(((i + r - 1) % ${#order[@]}))]}
      "run_$c" "$set" "$r"
    done
  done
  rm -rf "$t"
}

run_w1() {
  local x=$sd/tree/x s1 s2
  rm -rf "$x" && mkdir -p "$x"
  s1=$(timed "$1" "w1.1 tar -x" "$2" tar "${tar_opts[@]}" -xf "$sd/tree/tree.tar" -C "$x")
  s2=$(timed "$1" "w1.2 find + mkfs.ext4 -d" "$2" "$repo/scripts/bench/mkfs-tree.sh" "$x" "$sd/tree/w.img")
  sum_record "$1" "w1 tar -x + mkfs.ext4 -d" "$2" "$s1" "$s2"
  rm -rf "$x" "$sd/tree/w.img"
}

run_w2() {
  timed "$1" "w2 mkfs.ext4 -d (tree ready)" "$2" "$repo/scripts/bench/mkfs-tree.sh" "$sd/tree/ready" "$sd/tree/w.img" >/dev/null
  rm -f "$sd/tree/w.img"
}

run_w3() {
  [ "$have_engine" = 1 ] || return 0
  timed "$1" "w3 our writer (tar → flatten → ext4)" "$2" "$work/bin/bench-tar2ext4" -o "$sd/tree/w.img" "$sd/tree/tree.tar" >/dev/null
  fsck_gate "$sd/tree/w.img"
  rm -f "$sd/tree/w.img"
}
