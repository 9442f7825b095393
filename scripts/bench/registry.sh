# Sourced by scripts/bench.sh: Debian's docker-registry (CNCF distribution)
# on 127.0.0.1 with a temp storage dir. Sets $registry and $registry_pid.

start_registry() {
  local port i
  for i in $(seq 20); do
    port=$((20000 + RANDOM % 20000))
    cat >"$work/registry.yml" <<YML
version: 0.1
storage: {filesystem: {rootdirectory: $work/registry}}
http: {addr: 127.0.0.1:$port}
log: {level: error}
YML
    docker-registry serve "$work/registry.yml" >"$work/registry.log" 2>&1 &
    registry_pid=$!
    for _ in $(seq 50); do
      if curl -fsS "http://127.0.0.1:$port/v2/" >/dev/null 2>&1; then
        registry=127.0.0.1:$port
        return 0
      fi
      kill -0 "$registry_pid" 2>/dev/null || break
      sleep 0.1
    done
    kill "$registry_pid" 2>/dev/null || true
    registry_pid=''
  done
  echo "bench: docker-registry did not start:" >&2
  cat "$work/registry.log" >&2
  exit 1
}
