package daemon

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/banger-dev/banger/internal/paths"
)

// publish creates the artifact directory final atomically:
//
//  1. build fills final+".staging" (created empty, 0755); it must fsync the
//     files it writes;
//  2. the staging directory is synced and renamed to final, and the parent
//     directory synced;
//  3. commit records the artifact (usually a store insert).
//
// If any step fails or ctx is canceled before commit succeeds, everything
// made so far is removed and the error returned. A crash leaves at most a
// staging directory (removed at the next start) or an unrecorded final
// directory (reported at the next start).
func (d *Daemon) publish(ctx context.Context, final string, build func(ctx context.Context, staging string) error, commit func(ctx context.Context) error) error {
	staging := final + paths.StagingSuffix
	if err := os.Mkdir(staging, 0o755); err != nil {
		return fmt.Errorf("creating staging directory: %w", err)
	}
	err := build(ctx, staging)
	if err == nil {
		err = ctx.Err()
	}
	if err == nil {
		err = syncDir(staging)
	}
	if err == nil {
		err = os.Rename(staging, final)
	}
	if err != nil {
		d.discard(staging)
		return err
	}
	err = syncDir(filepath.Dir(final))
	if err == nil {
		err = ctx.Err()
	}
	if err == nil {
		err = commit(ctx)
	}
	if err != nil {
		d.discard(final)
		return err
	}
	return nil
}

// discard removes a directory an operation gave up on.
func (d *Daemon) discard(dir string) {
	if err := os.RemoveAll(dir); err != nil {
		d.log.Error("rolling back", "dir", dir, "err", err)
	}
}

// syncDir fsyncs a directory so renames and new entries in it are durable.
func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("syncing %s: %w", dir, err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("syncing %s: %w", dir, err)
	}
	return nil
}
