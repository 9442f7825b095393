package e2e

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/banger-dev/banger/internal/testutil/registrytest"
)

// faultCase is one registry misbehaviour in front of a fresh image.
type faultCase struct {
	env   *bangerEnv
	proxy *faultProxy
	img   pushed // as pushed, with ref and name through the proxy
	repo  string
}

// newFaultCase pushes a three-layer image to reg as repo:1 and returns it
// seen through a fresh proxy, with a fresh banger environment.
func newFaultCase(t *testing.T, reg *registrytest.Registry, repo string, seed uint64) *faultCase {
	t.Helper()
	img := pushImage(t, reg.Host+"/"+repo+":1", smallLayers(seed, 3, 256<<10))
	p := newFaultProxy(t, reg.Host)
	img.ref = p.host + "/" + repo + ":1"
	return &faultCase{env: newEnv(t, envOptions{}), proxy: p, img: img, repo: repo}
}

// pulledOK checks a successful pull recorded exactly the pushed image and
// left a clean state.
func (fc *faultCase) pulledOK(t *testing.T, res cliResult) {
	t.Helper()
	if res.code != 0 {
		t.Fatalf("pull did not recover from the fault: %s", res)
	}
	images, _ := fc.env.checkState(t, stateCheck{})
	if len(images) != 1 || images[0].Name != fc.img.name || images[0].Digest != fc.img.digest {
		t.Fatalf("images after the pull = %+v, want one %s at %s", images, fc.img.name, fc.img.digest)
	}
}

// failedClean checks a failed pull recorded nothing and left nothing.
func (fc *faultCase) failedClean(t *testing.T, res cliResult) {
	t.Helper()
	if res.code == 0 {
		t.Fatalf("pull succeeded despite the fault: %s", res)
	}
	if left := partials(fc.env); len(left) > 0 {
		t.Logf("FINDING: the pull answered its error while downloads of %v were still being torn down", left)
		waitIdle(t, fc.env)
	}
	if images, _ := fc.env.checkState(t, stateCheck{}); len(images) != 0 {
		t.Errorf("a failed pull left images: %+v", images)
	}
	if entries, _ := os.ReadDir(fc.env.layout.ImagesDir()); len(entries) != 0 {
		t.Errorf("a failed pull left entries in the images dir: %v", entries)
	}
}

// TestRegistryFaults pulls through a proxy that injects registry failures:
// transient ones must be retried to success, wrong bytes and missing blobs
// must fail clearly with nothing cached or recorded, a stalled download
// must be cancellable with SIGINT and roll back.
func TestRegistryFaults(t *testing.T) {
	t.Parallel()
	reg := registrytest.Start(t, registrytest.Options{})

	t.Run("5xx then recovery", func(t *testing.T) {
		t.Parallel()
		fc := newFaultCase(t, reg, "faults/fivexx", 11)
		fc.proxy.add("manifest-503", 1, manifestReq(fc.repo), status(503, "UNAVAILABLE"))
		fc.proxy.add("blob-500", 1, blobGET(fc.img.layers[0]), status(500, "UNKNOWN"))
		fc.proxy.add("blob-503", 1, blobGET(fc.img.layers[0]), status(503, "UNAVAILABLE"))
		fc.pulledOK(t, fc.env.run(t, "image", "pull", fc.img.ref))
		for _, f := range []string{"manifest-503", "blob-500", "blob-503"} {
			if n := fc.proxy.hitCount(f); n != 1 {
				t.Errorf("fault %s fired %d times, want 1", f, n)
			}
		}
	})

	t.Run("connection reset mid-blob", func(t *testing.T) {
		t.Parallel()
		fc := newFaultCase(t, reg, "faults/reset", 12)
		fc.proxy.add("reset", 1, blobGET(fc.img.layers[1]), reset)
		fc.pulledOK(t, fc.env.run(t, "image", "pull", fc.img.ref))
		if n := fc.proxy.hitCount("reset"); n != 1 {
			t.Errorf("the reset fired %d times, want 1", n)
		}
	})

	t.Run("wrong digest", func(t *testing.T) {
		t.Parallel()
		fc := newFaultCase(t, reg, "faults/corrupt", 13)
		bad := fc.img.layers[1]
		fc.proxy.add("corrupt", -1, blobGET(bad), corrupt)
		res := fc.env.run(t, "image", "pull", fc.img.ref)
		fc.failedClean(t, res)
		if !strings.Contains(res.stderr, "digest") || !strings.Contains(res.stderr, bad.Hex[:12]) {
			t.Errorf("the error does not name the digest mismatch of %s: %s", bad, res.stderr)
		}
		if fc.env.hasBlob(bad.Hex) {
			t.Errorf("altered bytes were cached under %s", bad)
		}
		t.Logf("served altered bytes %d times; the CLI said: %s", fc.proxy.hitCount("corrupt"), lastLine(res.stderr))
		fc.proxy.clear()
		fc.pulledOK(t, fc.env.run(t, "image", "pull", fc.img.ref))
	})

	t.Run("manifest names a missing blob", func(t *testing.T) {
		t.Parallel()
		fc := newFaultCase(t, reg, "faults/missing", 14)
		gone := fc.img.layers[2]
		fc.proxy.add("missing", -1, blobGET(gone), status(404, "BLOB_UNKNOWN"))
		res := fc.env.run(t, "image", "pull", fc.img.ref)
		fc.failedClean(t, res)
		if !strings.Contains(res.stderr, "missing") {
			t.Errorf("the error does not say a blob is missing: %s", res.stderr)
		}
		if !strings.Contains(res.stderr, gone.Hex[:12]) {
			t.Logf("FINDING: the error does not name the missing blob %s", gone)
		}
		if n := fc.proxy.hitCount("missing"); n != 1 {
			t.Errorf("a missing blob was asked for %d times, want 1 (a 404 is not worth retrying)", n)
		}
		t.Logf("the CLI said: %s", lastLine(res.stderr))
	})

	t.Run("429 with Retry-After", func(t *testing.T) {
		t.Parallel()
		fc := newFaultCase(t, reg, "faults/ratelimit", 15)
		fc.proxy.add("429-manifest", 1, manifestReq(fc.repo), status(429, "TOOMANYREQUESTS", "Retry-After: 1"))
		fc.proxy.add("429-blob", 1, blobGET(fc.img.layers[0]), status(429, "TOOMANYREQUESTS", "Retry-After: 1"))
		res := fc.env.run(t, "image", "pull", fc.img.ref)
		fc.pulledOK(t, res)
		for _, f := range []string{"429-manifest", "429-blob"} {
			if n := fc.proxy.hitCount(f); n != 1 {
				t.Errorf("fault %s fired %d times, want 1", f, n)
			}
		}
		if res.elapsed < 2*time.Second {
			t.Errorf("the pull took %s: it did not wait out two Retry-After: 1", res.elapsed)
		}
	})

	t.Run("persistent 503 gives up clearly", func(t *testing.T) {
		t.Parallel()
		fc := newFaultCase(t, reg, "faults/down", 17)
		fc.proxy.add("blob-503", -1, blobGET(fc.img.layers[2]), status(503, "UNAVAILABLE"))
		testGivesUp(t, fc, "blob-503")
	})

	t.Run("429 asking for too long a wait", func(t *testing.T) {
		t.Parallel()
		fc := newFaultCase(t, reg, "faults/limited", 18)
		fc.proxy.add("429", -1, manifestReq(fc.repo), status(429, "TOOMANYREQUESTS", "Retry-After: 3600"))
		res := fc.env.run(t, "image", "pull", fc.img.ref)
		fc.failedClean(t, res)
		if !strings.Contains(res.stderr, "rate-limiting") || !strings.Contains(res.stderr, "1h0m0s") {
			t.Errorf("the error does not say the registry rate-limits for an hour: %s", res.stderr)
		}
		if res.elapsed > 10*time.Second {
			t.Errorf("the pull waited %s for a Retry-After of an hour it should refuse at once", res.elapsed)
		}
	})

	t.Run("stalled blob then SIGINT", func(t *testing.T) {
		t.Parallel()
		fc := newFaultCase(t, reg, "faults/stall", 16)
		fc.proxy.add("stall", -1, blobGET(fc.img.layers[0]), stall)
		testStallInterrupt(t, fc)
	})
}

// testStallInterrupt starts a pull whose download stalls, reports whether
// anything times it out, then interrupts the CLI as Ctrl-C would: the pull
// must stop downloading, roll back and leave the daemon serving.
func testStallInterrupt(t *testing.T, fc *faultCase) {
	ctx, cancel := context.WithTimeout(context.Background(), cliTimeout)
	defer cancel()
	cmd, _, stderr := fc.env.command(ctx, "image", "pull", fc.img.ref)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	fc.proxy.await(t, "stall", 30*time.Second)
	const grace = 3 * time.Second
	select {
	case err := <-exited:
		t.Logf("a stalled download ended on its own within %s: %v: %s", grace, err, stderr)
	case <-time.After(grace):
		t.Logf("FINDING: a download stalled mid-body is still waiting after %s: no idle timeout on blob bodies", grace)
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			t.Fatal("the CLI did not exit within 15s of SIGINT")
		}
	}
	if code := cmd.ProcessState.ExitCode(); code == 0 {
		t.Fatalf("an interrupted pull exited 0: %s", stderr)
	}
	fc.proxy.await(t, "stall:canceled", 15*time.Second) // the daemon hung up on the registry
	waitIdle(t, fc.env)
	fc.failedClean(t, cliResult{code: 1})
	fc.proxy.clear()
	fc.pulledOK(t, fc.env.run(t, "image", "pull", fc.img.ref))
}

// maxAttempts is imagepull's default RetryPolicy.Attempts: how often one
// blob may be asked for before a pull gives up.
const maxAttempts = 5

// testGivesUp runs a pull whose blob always fails with 503: after at most
// maxAttempts requests it must fail with a clear message and leave nothing.
// Should it ask more often, the test says so and interrupts it, rather than
// sit through every retry.
func testGivesUp(t *testing.T, fc *faultCase, fault string) {
	ctx, cancel := context.WithTimeout(context.Background(), cliTimeout)
	defer cancel()
	cmd, _, stderr := fc.env.command(ctx, "image", "pull", fc.img.ref)
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	for done := false; !done; {
		select {
		case <-exited:
			done = true
		case <-time.After(50 * time.Millisecond):
			if n := fc.proxy.hitCount(fault); n > maxAttempts {
				t.Errorf("a blob answering 503 was asked for %d times (at most %d wanted) after %s: the download retries the transport's retries",
					n, maxAttempts, time.Since(start).Round(time.Millisecond))
				cmd.Process.Signal(os.Interrupt)
				<-exited
				waitIdle(t, fc.env)
				fc.failedClean(t, cliResult{code: 1})
				return
			}
		}
	}
	res := cliResult{code: cmd.ProcessState.ExitCode(), stderr: stderr.String(), elapsed: time.Since(start)}
	fc.failedClean(t, res)
	if !strings.Contains(res.stderr, "503") || !strings.Contains(res.stderr, "try again") {
		t.Errorf("the error does not report the 503 and what to do: %s", res.stderr)
	}
	t.Logf("gave up after %d attempts in %s: %s", fc.proxy.hitCount(fault), res.elapsed.Round(time.Millisecond), lastLine(res.stderr))
}

// partials lists staging directories and partial downloads.
func partials(env *bangerEnv) []string {
	var left []string
	for _, dir := range []string{env.layout.ImagesDir(), env.layout.OCIDir() + "/tmp"} {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if strings.HasSuffix(e.Name(), ".staging") || strings.HasSuffix(e.Name(), ".part") {
				left = append(left, e.Name())
			}
		}
	}
	return left
}

// waitIdle waits until no staging directory or partial download is left:
// the daemon may still be rolling back after its client left.
func waitIdle(t *testing.T, env *bangerEnv) {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); ; {
		if len(partials(env)) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the daemon did not roll back within 15s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
