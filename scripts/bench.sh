#!/usr/bin/env bash
# make bench: image pull against its anchors, on a local registry.
#
# Images (tools/bench-push, internal/testutil/debianimage): debian (a
# debootstrapped bookworm minbase tree in 3 gzip layers, plus a second tag
# sharing the two base layers), small (many small files), big (a few big
# files, one sparse). For each image, every round runs each contender once,
# in an order rotated per round; the table shows medians. Contenders:
#   a  seed pipeline: skopeo copy + umoci unpack --rootless + mkfs.ext4 -d
#   b  skopeo copy alone (transfer to an OCI layout)
#   c  floor: gunzip of the layer blobs, in Go with klauspost/compress (tools/bench-gunzip)
#   g  banger's engine alone: blobs → internal/flatten → internal/ext4 (tools/bench-tar2ext4)
#   d  banger image pull, cold (fresh XDG dirs; daemon started first, start-up timed apart)
#   e  banger image pull of the same digest again (warm)
#   f  banger image pull of a second image sharing the base layers (debian only)
# and for the ext4 writer alone, on one tar of each image's tree (see
# writer_rounds in scripts/bench/contenders.sh):
#   w1 tar -x + mkfs.ext4 -d   w2 mkfs.ext4 -d (tree already there)   w3 tools/bench-tar2ext4 on the tree's tar
# Every image banger or our writer produces must pass e2fsck -fn.
#
# Environment: BENCH_QUICK=1 (small sizes, 1 round), BENCH_ROUNDS, BENCH_IMAGES
# (debian,small,big), BENCH_SMALL_FILES/SIZE, BENCH_BIG_FILES/SIZE,
# BENCH_TREE, BENCH_OUT (bench-out), BENCH_PULL_FLAGS (extra image pull flags),
# BENCH_KEEP=1 (keep the work dir).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
. scripts/bench/lib.sh

quick=${BENCH_QUICK:-0}
if [ "$quick" = 1 ]; then
  rounds=${BENCH_ROUNDS:-1}
  small_files=${BENCH_SMALL_FILES:-2000} big_size=${BENCH_BIG_SIZE:-$((32 << 20))}
else
  rounds=${BENCH_ROUNDS:-3}
  small_files=${BENCH_SMALL_FILES:-100000} big_size=${BENCH_BIG_SIZE:-$((1 << 30))}
fi
small_size=${BENCH_SMALL_SIZE:-1024} big_files=${BENCH_BIG_FILES:-3}
images=${BENCH_IMAGES:-debian,small,big}
tree=${BENCH_TREE:-/var/cache/banger-ci/bookworm-minbase}
out=${BENCH_OUT:-$repo/bench-out}
bin=$repo/bin
read -r -a pull_flags <<<"${BENCH_PULL_FLAGS:-}"

for tool in skopeo umoci docker-registry mkfs.ext4 e2fsck /usr/bin/time go; do
  command -v "$tool" >/dev/null || { echo "bench: $tool missing (see scripts/install-deps.sh)" >&2; exit 1; }
done
case ",$images," in *,debian,*) scripts/bench/ensure-tree.sh "$tree" ;; esac

work=$(mktemp -d "${TMPDIR:-/tmp}/banger-bench.XXXXXX")
results=$work/results.tsv notes=$work/notes.md fsck_count=0
: >"$results"
: >"$notes"
registry_pid='' daemon_pid=''
cleanup() {
  [ -n "$daemon_pid" ] && kill "$daemon_pid" 2>/dev/null || true
  [ -n "$registry_pid" ] && kill "$registry_pid" 2>/dev/null || true
  [ "${BENCH_KEEP:-}" = 1 ] && echo "bench: kept $work" >&2 || rm -rf "$work"
}
trap cleanup EXIT
note() { echo "- $*" >>"$notes"; say "$*"; }

say "building bench tools into $work/bin"
mkdir -p "$work/bin"
for t in bench-push bench-gunzip bench-tar2ext4; do
  if ! go build -o "$work/bin/$t" "./tools/$t" 2>"$work/build-$t.err"; then
    [ "$t" = bench-tar2ext4 ] || { cat "$work/build-$t.err" >&2; exit 1; }
    note "skipped g and w3: tools/bench-tar2ext4 does not build yet ($(head -n1 "$work/build-$t.err"))"
  fi
done
have_engine=0; [ -x "$work/bin/bench-tar2ext4" ] && have_engine=1
have_pull=0
if "$bin/banger" image --help 2>/dev/null | grep -q '^  pull '; then have_pull=1; else
  note "skipped d, e, f: bin/banger has no 'image pull' command yet"
fi

. scripts/bench/registry.sh
start_registry
say "pushing images to $registry"
"$work/bin/bench-push" -registry "$registry" -work "$work/layers" -tree "$tree" -images "$images" \
  -small-files "$small_files" -small-size "$small_size" -big-files "$big_files" -big-size "$big_size" >"$work/pushed.tsv"
rm -rf "$work/layers"
cat "$work/pushed.tsv" >&2

. scripts/bench/contenders.sh
IFS=, read -r -a sets <<<"$images"
for set in "${sets[@]}"; do
  bench_set "$set"
done

mkdir -p "$out"
. scripts/bench/report.sh
report >"$out/results.md"
cp "$results" "$out/results.tsv"
cat "$out/results.md"
