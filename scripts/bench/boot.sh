#!/usr/bin/env bash
# make bench-boot: how long a banger VM takes to boot and to answer, under
# QEMU TCG, against a bare boot of the same kernel in the same run.
#
# Each round runs a and b once (the order swapped every round), then c:
#   a  bare: qemu-system-x86_64 -M microvm with Debian's cloud kernel and a
#      busybox-only initramfs whose /init is `echo READY; poweroff -f`:
#      a.ready = start → READY on the serial console, a.exit = start → QEMU gone
#   b  `banger vm run --rm busybox-1 -- echo READY`: b.first = start → first
#      output line on the CLI's stdout, b.wall = start → the CLI exits
#   c  `banger vm run -d` (c.detach = until it returns, the guest up), then
#      BENCH_EXECS × `banger vm exec VM -- true` (c.exec, each one a sample),
#      then vm stop and vm rm
#   d  pull to first output: the image removed and the blob cache pruned
#      (untimed), then `banger image pull` + `banger vm run --rm … -- echo
#      READY`: d.first = start of the pull → first output line
# QEMU flags, kernel command line and memory of a match banger's (TCG,
# tsc_early_khz, tsc=reliable, quiet loglevel=3, 256 MiB, 1 vCPU); a has no
# disk, network or agent devices. One warm-up banger run (it builds the
# initramfs cache) is not counted.
#
# Environment: BENCH_ROUNDS (5), BENCH_EXECS (20), BENCH_OUT (bench-out),
# BANGER_TEST_KERNEL_DEB (default /var/cache/banger-ci/linux-image-*-cloud-amd64_*.deb),
# BENCH_KEEP=1 (keep the work dir). Writes BENCH_OUT/boot.md and boot.tsv.
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$PWD
. scripts/bench/lib.sh
. scripts/bench/registry.sh

rounds=${BENCH_ROUNDS:-5} execs=${BENCH_EXECS:-20}
out=${BENCH_OUT:-$repo/bench-out}
bin=$repo/bin
deb=${BANGER_TEST_KERNEL_DEB:-$(ls /var/cache/banger-ci/linux-image-*-cloud-amd64_*.deb 2>/dev/null | tail -n1)}
for tool in qemu-system-x86_64 docker-registry cpio dpkg-deb curl go; do
  command -v "$tool" >/dev/null || { echo "bench-boot: $tool missing (see scripts/install-deps.sh)" >&2; exit 1; }
done
[ -x /bin/busybox ] || { echo "bench-boot: /bin/busybox missing (apt-get install busybox-static)" >&2; exit 1; }
[ -f "$deb" ] || { echo "bench-boot: no kernel package; set BANGER_TEST_KERNEL_DEB" >&2; exit 1; }
[ -x "$bin/banger" ] && [ -x "$bin/banger-init" ] || { echo "bench-boot: run make build first" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/banger-bootbench.XXXXXX")
results=$work/results.tsv
: >"$results"
registry_pid=''
export HOME=$work/home XDG_STATE_HOME=$work/state XDG_CACHE_HOME=$work/cache XDG_RUNTIME_DIR=$work/run DOCKER_CONFIG=$work/docker
mkdir -p "$HOME" "$XDG_RUNTIME_DIR" "$DOCKER_CONFIG" && chmod 0700 "$XDG_RUNTIME_DIR"
cleanup() {
  "$bin/banger" daemon stop >/dev/null 2>&1 || true
  [ -n "$registry_pid" ] && kill "$registry_pid" 2>/dev/null || true
  [ "${BENCH_KEEP:-}" = 1 ] && echo "bench-boot: kept $work" >&2 || rm -rf "$work"
}
trap cleanup EXIT

# ms_since T0: milliseconds from T0 (date +%s%N) to now.
ms_since() { echo $((($(date +%s%N) - $1) / 1000000)); }
# rec CONTENDER ROUND MS: one sample, stored in seconds.
rec() { record boot "$1" "$2" "$(awk -v m="$3" 'BEGIN { printf "%.3f", m / 1000 }')" 0; }

# The bare guest: the package's kernel, a busybox initramfs.
say "kernel and bare initramfs"
mkdir -p "$work/deb" "$work/initrd/bin" "$work/initrd/dev"
dpkg-deb -x "$deb" "$work/deb"
kernel=$(ls "$work"/deb/boot/vmlinuz-* | head -n1)
cp /bin/busybox "$work/initrd/bin/busybox"
ln -s busybox "$work/initrd/bin/sh"
mknod "$work/initrd/dev/console" c 5 1
printf '#!/bin/sh\necho READY\npoweroff -f\n' >"$work/initrd/init"
chmod 0755 "$work/initrd/init"
(cd "$work/initrd" && find . | cpio -o -H newc --quiet) | gzip -6 >"$work/initrd.cpio.gz"
khz=$(cat /sys/devices/system/cpu/cpu0/tsc_freq_khz 2>/dev/null ||
  awk -F: '/^cpu MHz/ { printf "%d", $2 * 1000; exit }' /proc/cpuinfo)
append="console=ttyS0 panic=-1 tsc_early_khz=$khz tsc=reliable quiet loglevel=3"

bare() {
  local t0 round=$1
  rm -f "$work/ready"
  t0=$(date +%s%N)
  timeout 300 qemu-system-x86_64 -M microvm,acpi=on -accel tcg -cpu max -m 256 -smp 1 \
    -nodefaults -no-user-config -display none -no-reboot \
    -kernel "$kernel" -initrd "$work/initrd.cpio.gz" -append "$append" -serial stdio </dev/null |
    while IFS= read -r line; do
      case $line in *READY*) [ -f "$work/ready" ] || ms_since "$t0" >"$work/ready" ;; esac
    done
  rec a.exit "$round" "$(ms_since "$t0")"
  [ -s "$work/ready" ] || { echo "bench-boot: the bare guest printed no READY" >&2; exit 1; }
  rec a.ready "$round" "$(cat "$work/ready")"
}

run_fg() {
  local t0 round=$1 wall
  rm -f "$work/first"
  t0=$(date +%s%N)
  if ! "$bin/banger" vm run --rm busybox-1 -- echo READY 2>"$work/run.err" |
    while IFS= read -r line; do
      [ -f "$work/first" ] || ms_since "$t0" >"$work/first"
    done; then
    echo "bench-boot: vm run failed" >&2
    cat "$work/run.err" >&2
    exit 1
  fi
  wall=$(ms_since "$t0")
  [ "$round" = warm-up ] && return
  rec b.wall "$round" "$wall"
  rec b.first "$round" "$(cat "$work/first")"
}

detached() {
  local t0 round=$1 i
  t0=$(date +%s%N)
  "$bin/banger" vm run -d --name bench busybox-1 -- sleep 3600 >/dev/null
  rec c.detach "$round" "$(ms_since "$t0")"
  for i in $(seq "$execs"); do
    t0=$(date +%s%N)
    "$bin/banger" vm exec bench -- true
    rec c.exec "$round" "$(ms_since "$t0")"
  done
  "$bin/banger" vm stop bench >/dev/null
  "$bin/banger" vm rm bench >/dev/null
}

# pull_run: a cold pull of the image, then its first output under vm run.
pull_run() {
  local t0 round=$1
  "$bin/banger" image rm busybox-1 >/dev/null
  "$bin/banger" image cache prune >/dev/null
  rm -f "$work/first"
  t0=$(date +%s%N)
  "$bin/banger" image pull -q "$registry/bench/busybox:1" --kernel-ref cloud >/dev/null
  "$bin/banger" vm run --rm busybox-1 -- echo READY 2>"$work/run.err" |
    while IFS= read -r line; do
      [ -f "$work/first" ] || ms_since "$t0" >"$work/first"
    done
  [ -s "$work/first" ] || { echo "bench-boot: pull + vm run printed nothing" >&2; cat "$work/run.err" >&2; exit 1; }
  rec d.first "$round" "$(cat "$work/first")"
}

say "registry, image, kernel"
start_registry
go run ./tools/push-demo-image "$registry/bench/busybox:1" >/dev/null
"$bin/banger" kernel import cloud --deb "$deb" >/dev/null
"$bin/banger" image pull -q "$registry/bench/busybox:1" --kernel-ref cloud >/dev/null
run_fg warm-up

load_start=$(cut -d' ' -f1-3 /proc/loadavg)
for r in $(seq "$rounds"); do
  say "round $r/$rounds"
  if [ $((r % 2)) = 1 ]; then bare "$r"; run_fg "$r"; else run_fg "$r"; bare "$r"; fi
  detached "$r"
  pull_run "$r"
done
load_end=$(cut -d' ' -f1-3 /proc/loadavg)

# table: median, min and max of each contender, in seconds.
table() {
  echo "| contender | median s | min s | max s | samples |"
  echo "|---|---:|---:|---:|---:|"
  for c in a.ready a.exit b.first b.wall c.detach c.exec d.first; do
    awk -F'\t' -v c="$c" '$2 == c { print $4 }' "$results" | sort -g | awk -v c="$c" '
      { v[++n] = $1 }
      END { if (n) printf "| %s | %.3f | %.3f | %.3f | %d |\n", c, (n % 2) ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2, v[1], v[n], n }'
  done
}
ratio() { awk -v a="$(median boot "$1")" -v b="$(median boot "$2")" 'BEGIN { printf "%.2f× (%.2f s / %.2f s)", a / b, a, b }'; }
mkdir -p "$out"
cp "$results" "$out/boot.tsv"
{
  echo "Boot (TCG), $(date -u +%F), $rounds rounds, $execs execs per round; load average $load_start at start, $load_end at the end; $(nproc) cores."
  echo "Kernel: $(basename "$deb"); QEMU: $(qemu-system-x86_64 --version | head -n1)."
  echo
  table
  echo
  echo "| ratio (medians) | value |"
  echo "|---|---|"
  echo "| banger first output / bare READY (b.first / a.ready) | $(ratio b.first a.ready) |"
  echo "| banger vm run wall / bare QEMU gone (b.wall / a.exit) | $(ratio b.wall a.exit) |"
  echo "| vm run -d / bare READY (c.detach / a.ready) | $(ratio c.detach a.ready) |"
  echo "| cold pull + vm run first output / bare READY (d.first / a.ready) | $(ratio d.first a.ready) |"
  echo
  echo "Per round, b.first / a.ready: $(awk -F'\t' '$2 == "a.ready" { a[$3] = $4 } $2 == "b.first" { b[$3] = $4 }
    END { for (r = 1; r in a; r++) printf "%s%.2f×", (r > 1 ? ", " : ""), b[r] / a[r] }' "$results")."
} >"$out/boot.md"
cat "$out/boot.md"
