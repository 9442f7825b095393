// Package e2e holds banger's fault and abuse suite: it builds the real
// banger binary and drives it as a user would, through the CLI in a
// subprocess with an isolated HOME and XDG directories, against real
// registries (Debian's docker-registry) behind a fault-injecting proxy.
//
// What it proves: a daemon killed at random points loses nothing and leaves
// nothing half-made; registry failures (5xx, resets, wrong bytes, missing
// blobs, rate limits, stalls) end in a retry or a clear error with nothing
// cached or recorded; a full disk is reported and rolled back; concurrent
// pulls, lists and removals stay consistent; the raw API refuses malformed
// requests and other users. Run it with `go test ./e2e/`; tests needing
// root or a missing binary skip with a message naming the Debian package.
//
// TestMain builds ./cmd/banger once (or uses $BANGER_BIN_DIR/banger when
// that exists). The crash test logs its random seed; BANGER_E2E_SEED=<seed>
// replays the same schedule. The package has no code outside its tests.
package e2e
