package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/banger-dev/banger/internal/model"
	"github.com/banger-dev/banger/internal/testutil/ext4check"
	"github.com/banger-dev/banger/internal/testutil/registrytest"
)

// seedEnv, when set, replays a random schedule.
const seedEnv = "BANGER_E2E_SEED"

// testSeed returns the seed of a random schedule and logs how to replay it.
func testSeed(t *testing.T) uint64 {
	t.Helper()
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv(seedEnv); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("%s=%q: %v", seedEnv, s, err)
		}
		seed = v
	}
	t.Logf("random schedule seed %d (replay with %s=%d)", seed, seedEnv, seed)
	return seed
}

// crashRun is the state of TestCrashSafety.
type crashRun struct {
	env     *bangerEnv
	rng     *rand.Rand
	images  []pushed // fixed refs
	flipRef string   // a tag alternating between flips[0] and flips[1]
	flips   []pushed
	flipNow int // which of flips the tag points at
	known   map[string][]string
	// acked is what the CLI confirmed and must survive any crash: name →
	// digest, "" for a name that must be absent. Names with an operation
	// cut short are unknown until the next listing.
	acked map[string]string
}

// TestCrashSafety kills the daemon with SIGKILL at random points of 24
// pulls (a seeded schedule), restarting it each time. After every restart:
// whatever the CLI confirmed (a pull, a removal) still holds, no staging
// directory or partial download is left, and every cached blob hashes to
// its name. At the end every listed image is one that was pushed and
// passes the fsck gate, and every ref pulls again.
func TestCrashSafety(t *testing.T) {
	t.Parallel()
	reg := registrytest.Start(t, registrytest.Options{})
	cr := &crashRun{
		env: newEnv(t, envOptions{NoAutostart: true}), rng: rand.New(rand.NewPCG(testSeed(t), 2)),
		flipRef: reg.Host + "/crash/flip:latest", acked: map[string]string{},
	}
	cr.images = []pushed{
		pushImage(t, reg.Host+"/crash/alpha:1", smallLayers(1, 3, 1<<20)),
		pushImage(t, reg.Host+"/crash/beta:1", smallLayers(2, 4, 512<<10)),
		pushImage(t, reg.Host+"/crash/gamma:1", smallLayers(3, 2, 2<<20)),
	}
	cr.flips = []pushed{cr.pushFlip(t, 0), cr.pushFlip(t, 1)}
	cr.known = map[string][]string{cr.flips[0].name: {cr.flips[0].digest, cr.flips[1].digest}}
	for _, p := range cr.images {
		cr.known[p.name] = []string{p.digest}
	}

	d := cr.env.startDaemon(t)
	base := cr.env.ok(t, "image", "pull", "-q", cr.images[0].ref)
	// Most kills should land inside a pull, some just after one.
	window := max(150*time.Millisecond, base.elapsed*5/4)
	t.Logf("an uninterrupted pull took %s; kills land 0–%s into a pull", base.elapsed.Round(time.Millisecond), window)
	const rounds = 24
	interrupted := 0
	for round := range rounds {
		if !cr.round(t, round, d, window) {
			interrupted++
		}
		d = cr.env.startDaemon(t) // recovery runs here
		cr.checkAcked(t, round)
	}
	t.Logf("%d of %d pulls were cut short by the kill", interrupted, rounds)
	cr.checkEnd(t)
}

// pushFlip points the flip tag at version v (0 or 1).
func (cr *crashRun) pushFlip(t *testing.T, v int) pushed {
	cr.flipNow = v
	return pushImage(t, cr.flipRef, smallLayers(uint64(4+v), 3, 1<<20))
}

// round prepares and runs one pull that a kill interrupts, and reports
// whether the pull finished first.
func (cr *crashRun) round(t *testing.T, round int, d *daemonProc, window time.Duration) bool {
	t.Helper()
	p := cr.flips[round%2]
	if k := cr.rng.IntN(len(cr.images) + 1); k < len(cr.images) {
		p = cr.images[k]
	} else {
		cr.pushFlip(t, round%2)
	}
	if cr.rng.IntN(2) == 0 {
		res := cr.env.run(t, "image", "rm", p.name)
		if res.code == 0 || strings.Contains(res.stderr, "not found") {
			cr.acked[p.name] = ""
		}
	}
	if cr.rng.IntN(4) == 0 {
		cr.env.ok(t, "image", "cache", "prune", "--all")
	}
	delay := time.Duration(cr.rng.Int64N(int64(window)))
	res := pullKilled(t, cr.env, d, p.ref, delay)
	if res.code == 0 {
		cr.acked[p.name] = p.digest
	} else {
		delete(cr.acked, p.name) // old, new or none: learnt from the next listing
	}
	t.Logf("round %2d: %s killed after %s: exit %d %s", round, p.ref, delay.Round(time.Millisecond), res.code, lastLine(res.stderr))
	return res.code == 0
}

// checkAcked checks, after a restart, the cheap invariants and that every
// confirmed operation survived; the listing then becomes the new truth.
func (cr *crashRun) checkAcked(t *testing.T, round int) {
	t.Helper()
	listed, _ := cr.env.checkState(t, stateCheck{AllowOrphans: true, NoGate: true})
	got := digests(listed)
	for name, want := range cr.acked {
		if got[name] != want {
			t.Errorf("after round %d: %s has digest %q, but the CLI confirmed %q", round, name, got[name], want)
		}
	}
	if t.Failed() {
		t.Fatalf("state broken after round %d (seed above)", round)
	}
	for name := range cr.known {
		cr.acked[name] = got[name]
	}
}

// checkEnd runs the full checks, then re-pulls every ref.
func (cr *crashRun) checkEnd(t *testing.T) {
	t.Helper()
	listed, _ := cr.env.checkState(t, stateCheck{})
	for _, img := range listed {
		if !slices.Contains(cr.known[img.Name], img.Digest) {
			t.Errorf("image %s has digest %s, not one that was pushed (%v)", img.Name, img.Digest, cr.known[img.Name])
		}
	}
	latest := append(slices.Clone(cr.images), cr.flips[cr.flipNow])
	for _, p := range latest {
		cr.env.ok(t, "image", "pull", p.ref)
	}
	listed, _ = cr.env.checkState(t, stateCheck{})
	got := digests(listed)
	for _, p := range latest {
		if got[p.name] != p.digest {
			t.Errorf("after re-pulling, %s has digest %q, want %s", p.name, got[p.name], p.digest)
		}
	}
}

// describeOrphans says which pushed image each unrecorded directory holds
// (by its kept manifest) and whether that image is listed anyway.
func (cr *crashRun) describeOrphans(orphans []string, listed []model.Image) string {
	got := digests(listed)
	var out []string
	for _, id := range orphans {
		sum, err := ext4check.FileDigest(filepath.Join(cr.env.layout.ImageDir(id), "manifest.json"))
		desc := id + ": no manifest"
		for name, ds := range cr.known {
			if err == nil && slices.Contains(ds, "sha256:"+sum) {
				desc = fmt.Sprintf("%s: %s@sha256:%.12s (listed with this digest: %t)", id, name, sum, got[name] == "sha256:"+sum)
			}
		}
		out = append(out, desc)
	}
	return strings.Join(out, "; ")
}

// digests maps image names to digests.
func digests(images []model.Image) map[string]string {
	m := map[string]string{}
	for _, img := range images {
		m[img.Name] = img.Digest
	}
	return m
}

// pullKilled starts `image pull ref`, kills the daemon after delay and
// returns how the CLI ended.
func pullKilled(t *testing.T, env *bangerEnv, d *daemonProc, ref string, delay time.Duration) cliResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cliTimeout)
	defer cancel()
	cmd, stdout, stderr := env.command(ctx, "image", "pull", ref)
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(delay)
	d.kill(t)
	err := cmd.Wait()
	res := cliResult{args: cmd.Args[1:], stdout: stdout.String(), stderr: stderr.String(), elapsed: time.Since(start)}
	if err != nil {
		res.code = -1
		if cmd.ProcessState != nil {
			res.code = cmd.ProcessState.ExitCode()
		}
	}
	if ctx.Err() != nil {
		t.Fatalf("the CLI did not notice the daemon's death: %s", res)
	}
	return res
}

// lastLine is the last line of s: the error, after any progress lines.
func lastLine(s string) string {
	s = strings.TrimSpace(s)
	return s[strings.LastIndexByte(s, '\n')+1:]
}
