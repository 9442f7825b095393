#!/usr/bin/env bash
# The offline demo: a local registry, an image built here, a Debian kernel
# package, then the main job end to end: kernel import, image pull, vm run.
# Everything it creates lives in one temp dir (printed), removed at the end
# unless BANGER_DEMO_KEEP=1.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$PWD/bin
deb=$(ls /var/cache/banger-ci/linux-image-*-cloud-amd64_*.deb | head -n1)

work=$(mktemp -d /tmp/banger-demo.XXXXXX)
# Built before HOME moves, so the Go caches of the user are used.
go build -o "$work/push-demo-image" ./tools/push-demo-image
export HOME=$work/home XDG_STATE_HOME=$work/state XDG_CACHE_HOME=$work/cache XDG_RUNTIME_DIR=$work/run
mkdir -p "$HOME" "$XDG_RUNTIME_DIR" && chmod 0700 "$XDG_RUNTIME_DIR"

port=$((20000 + RANDOM % 20000))
cat > "$work/registry.yml" <<YML
version: 0.1
storage: {filesystem: {rootdirectory: $work/registry}}
http: {addr: 127.0.0.1:$port}
log: {level: error}
YML
docker-registry serve "$work/registry.yml" >"$work/registry.log" 2>&1 &
registry_pid=$!
cleanup() {
  "$bin/banger" daemon stop >/dev/null 2>&1 || true
  kill "$registry_pid" 2>/dev/null || true
  [ "${BANGER_DEMO_KEEP:-}" = 1 ] && echo "kept $work" || rm -rf "$work"
}
trap cleanup EXIT
for _ in $(seq 50); do curl -fsS "http://127.0.0.1:$port/v2/" >/dev/null 2>&1 && break; sleep 0.1; done

# step prints a command (arguments with spaces or ; in single quotes), then runs it.
step() {
  printf '\n\033[1m$'
  for a in "$@"; do case $a in *[[:space:]\;]*) printf " '%s'" "$a" ;; *) printf ' %s' "$a" ;; esac; done
  printf '\033[0m\n'
  "$@"
}
ref=127.0.0.1:$port/demo/busybox:1
echo "demo state in $work; registry at 127.0.0.1:$port"
"$work/push-demo-image" "$ref" >/dev/null

step "$bin/banger" kernel import debian-cloud --deb "$deb"
step "$bin/banger" image pull "$ref" --kernel-ref debian-cloud
step "$bin/banger" image list
step "$bin/banger" vm run --rm busybox-1
set +e
step "$bin/banger" vm run --rm busybox-1 -- sh -c 'id; ls -l /bin/suid-busybox /home/app; exit 7'
rc=$?
set -e
echo "exit code from the guest: $rc"
[ "$rc" = 7 ]
