package e2e

import (
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/banger-dev/banger/internal/model"
	"github.com/banger-dev/banger/internal/testutil/registrytest"
)

// TestConcurrentAbuse runs 8 `image pull`s at once (several of the same
// ref, all racing to auto-start the daemon) while `image list`, `image rm`
// and `image cache prune` run in loops. Every pull must succeed, every list
// must parse, every removal must succeed or say "not found"; afterwards
// each listed image is there once with a rootfs passing the fsck gate, and
// nothing is orphaned.
func TestConcurrentAbuse(t *testing.T) {
	t.Parallel()
	reg := registrytest.Start(t, registrytest.Options{})
	env := newEnv(t, envOptions{})
	base := smallLayers(31, 2, 512<<10) // shared by alpha and beta
	refs := []pushed{
		pushImage(t, reg.Host+"/conc/alpha:1", slices.Concat(base, smallLayers(32, 1, 256<<10))),
		pushImage(t, reg.Host+"/conc/beta:1", slices.Concat(base, smallLayers(33, 1, 256<<10))),
		pushImage(t, reg.Host+"/conc/gamma:1", smallLayers(34, 3, 256<<10)),
	}

	var pulls sync.WaitGroup
	results := make([]cliResult, 8)
	for i := range results {
		pulls.Go(func() { results[i] = env.run(t, "image", "pull", refs[i%len(refs)].ref) })
	}
	stop := make(chan struct{})
	var loops sync.WaitGroup
	var lists, removals atomic.Int64
	loops.Go(func() { listLoop(t, env, stop, &lists) })
	loops.Go(func() { removeLoop(t, env, stop, refs, &removals) })
	loops.Go(func() {
		for !stopped(stop) {
			if res := env.run(t, "image", "cache", "prune"); res.code != 0 {
				t.Errorf("cache prune during pulls: %s", res)
			}
		}
	})
	pulls.Wait()
	close(stop)
	loops.Wait()
	for _, res := range results {
		if res.code != 0 {
			t.Errorf("a concurrent pull failed: %s", res)
		}
	}
	t.Logf("%d lists and %d removals ran during the pulls", lists.Load(), removals.Load())

	env.checkState(t, stateCheck{})
	for _, p := range refs {
		env.ok(t, "image", "pull", p.ref)
	}
	images, _ := env.checkState(t, stateCheck{})
	if len(images) != len(refs) {
		t.Errorf("after pulling %d refs, %d images are listed: %+v", len(refs), len(images), images)
	}
}

func stopped(stop <-chan struct{}) bool {
	select {
	case <-stop:
		return true
	default:
		return false
	}
}

// listLoop lists images until stop, checking each answer parses and holds
// no name twice.
func listLoop(t *testing.T, env *bangerEnv, stop <-chan struct{}, n *atomic.Int64) {
	for !stopped(stop) {
		res := env.run(t, "image", "list", "--format", "json")
		if res.code != 0 {
			t.Errorf("image list during pulls: %s", res)
			return
		}
		var images []model.Image
		if err := json.Unmarshal([]byte(res.stdout), &images); err != nil {
			t.Errorf("image list printed bad JSON: %v\n%s", err, res.stdout)
			return
		}
		seen := map[string]bool{}
		for _, img := range images {
			if seen[img.Name] {
				t.Errorf("image %s listed twice: %s", img.Name, res.stdout)
			}
			seen[img.Name] = true
		}
		n.Add(1)
	}
}

// removeLoop removes the images in turn until stop; "not found" is fine.
func removeLoop(t *testing.T, env *bangerEnv, stop <-chan struct{}, refs []pushed, n *atomic.Int64) {
	for i := 0; !stopped(stop); i++ {
		res := env.run(t, "image", "rm", refs[i%len(refs)].name)
		if res.code != 0 && !strings.Contains(res.stderr, "not found") {
			t.Errorf("image rm during pulls: %s", res)
		}
		n.Add(1)
	}
}
