package e2e

import (
	"strings"
	"testing"

	"github.com/banger-dev/banger/internal/testutil/registrytest"
)

// TestPullLongReference pulls, without --name, an image whose repository
// and tag are long but valid (a 100-byte repository, a 40-byte tag): the
// derived name must be one the daemon accepts, so the pull succeeds.
func TestPullLongReference(t *testing.T) {
	t.Parallel()
	reg := registrytest.Start(t, registrytest.Options{})
	env := newEnv(t, envOptions{})
	p := pushImage(t, reg.Host+"/"+strings.Repeat("r", 100)+":"+strings.Repeat("t", 40), smallLayers(41, 1, 4<<10))
	res := env.run(t, "image", "pull", p.ref)
	if res.code != 0 {
		t.Fatalf("a valid reference cannot be pulled without --name (derived name %q, %d bytes): %s", p.name, len(p.name), lastLine(res.stderr))
	}
	images, _ := env.checkState(t, stateCheck{})
	if len(images) != 1 || images[0].Digest != p.digest {
		t.Errorf("images = %+v", images)
	}
}
