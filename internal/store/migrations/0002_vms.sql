-- VMs. Times are RFC 3339 UTC text.
CREATE TABLE vms (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    image       TEXT NOT NULL DEFAULT '',
    kernel      TEXT NOT NULL DEFAULT '',
    state       TEXT NOT NULL,
    pid         INTEGER NOT NULL DEFAULT 0,
    cpus        INTEGER NOT NULL DEFAULT 1,
    memory_mib  INTEGER NOT NULL DEFAULT 0,
    dir         TEXT NOT NULL,
    exit_code   INTEGER NOT NULL DEFAULT -1,
    auto_remove INTEGER NOT NULL DEFAULT 0,
    created     TEXT NOT NULL
);
