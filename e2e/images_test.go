package e2e

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/banger-dev/banger/internal/imagepull"
	"github.com/banger-dev/banger/internal/testutil/busyboximage"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

var epoch = time.Date(2024, 3, 4, 5, 6, 7, 0, time.UTC)

type file = busyboximage.File

// pushed is an image pushed to a test registry.
type pushed struct {
	ref    string    // host/repo:tag as pushed
	name   string    // the name banger derives from ref
	digest string    // manifest digest
	layers []v1.Hash // layer digests, oldest first
}

// pushImage pushes an image of the given layers to ref (a registry on
// 127.0.0.1, reached over plain HTTP).
func pushImage(t testing.TB, ref string, layers [][]file) pushed {
	t.Helper()
	img, err := busyboximage.FromLayers(layers, v1.Config{Cmd: []string{"/bin/sh"}})
	if err != nil {
		t.Fatal(err)
	}
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img); err != nil {
		t.Fatalf("pushing %s: %v", ref, err)
	}
	p := pushed{ref: ref, name: imagepull.DefaultName(r)}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	p.digest = d.String()
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range ls {
		ld, err := l.Digest()
		if err != nil {
			t.Fatal(err)
		}
		p.layers = append(p.layers, ld)
	}
	return p
}

// smallLayers makes n layers, each with a directory, a few small files and
// one file of size random (incompressible) bytes, all derived from seed.
func smallLayers(seed uint64, n, size int) [][]file {
	rng := rand.New(rand.NewPCG(seed, 1))
	var layers [][]file
	for i := range n {
		dir := fmt.Sprintf("layer%d", i)
		layer := []file{
			busyboximage.Dir(dir, 0o755, epoch),
			busyboximage.Reg(dir+"/random.bin", 0o644, randBytes(rng, size), epoch),
		}
		for j := range 5 {
			layer = append(layer, busyboximage.Reg(fmt.Sprintf("%s/f%d.txt", dir, j), 0o644,
				[]byte(fmt.Sprintf("seed %d layer %d file %d\n", seed, i, j)), epoch))
		}
		if i > 0 { // something for the flattener: a whiteout of a lower file
			layer = append(layer, busyboximage.Reg(fmt.Sprintf("layer%d/.wh.f0.txt", i-1), 0o644, nil, epoch))
		}
		layers = append(layers, layer)
	}
	return layers
}

// randBytes returns n pseudo-random bytes.
func randBytes(rng *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		v := rng.Uint64()
		for k := range 8 {
			b[i+k] = byte(v >> (8 * k))
		}
	}
	return b
}
