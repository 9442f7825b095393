-- Images and kernels. Times are RFC 3339 UTC text; config is a JSON object.
CREATE TABLE images (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    ref         TEXT NOT NULL DEFAULT '',
    digest      TEXT NOT NULL DEFAULT '',
    platform    TEXT NOT NULL DEFAULT '',
    rootfs_path TEXT NOT NULL,
    size_bytes  INTEGER NOT NULL DEFAULT 0,
    managed     INTEGER NOT NULL DEFAULT 0,
    kernel      TEXT NOT NULL DEFAULT '',
    config      TEXT NOT NULL DEFAULT '{}',
    parent      TEXT NOT NULL DEFAULT '',
    created     TEXT NOT NULL
);

CREATE TABLE kernels (
    name       TEXT PRIMARY KEY,
    version    TEXT NOT NULL DEFAULT '',
    arch       TEXT NOT NULL DEFAULT '',
    source     TEXT NOT NULL DEFAULT '',
    digest     TEXT NOT NULL DEFAULT '',
    dir        TEXT NOT NULL,
    size_bytes INTEGER NOT NULL DEFAULT 0,
    created    TEXT NOT NULL
);
