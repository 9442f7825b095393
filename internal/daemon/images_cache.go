package daemon

import (
	"bytes"
	"net/http"
	"os"
	"path/filepath"

	"github.com/banger-dev/banger/internal/api"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func (d *Daemon) handleCacheUsage(r *http.Request) (any, error) {
	u, err := d.blobs.Usage()
	if err != nil {
		return nil, err
	}
	return api.CacheUsage{Dir: d.blobs.Root(), Blobs: u.Blobs, Bytes: u.Bytes}, nil
}

// handleCachePrune removes the cached blobs no pulled image is made of (or
// all of them). It waits for running pulls, whose blobs are not recorded
// yet.
func (d *Daemon) handleCachePrune(r *http.Request) (any, error) {
	var req api.PruneCacheRequest
	if err := decodeBody(r, &req); err != nil {
		return nil, err
	}
	d.cacheMu.Lock()
	defer d.cacheMu.Unlock()
	var keep []v1.Hash
	if !req.All {
		var err error
		if keep, err = d.neededBlobs(r); err != nil {
			return nil, err
		}
	}
	freed, err := d.blobs.Prune(keep)
	if err != nil {
		return nil, err
	}
	u, err := d.blobs.Usage()
	if err != nil {
		return nil, err
	}
	d.log.Info("blob cache pruned", "freed_bytes", freed, "all", req.All)
	return api.CacheUsage{Dir: d.blobs.Root(), Blobs: u.Blobs, Bytes: u.Bytes, FreedBytes: freed}, nil
}

// neededBlobs lists the config and layer digests of every pulled image, from
// the manifests kept in their directories.
func (d *Daemon) neededBlobs(r *http.Request) ([]v1.Hash, error) {
	images, err := d.store.ListImages(r.Context())
	if err != nil {
		return nil, err
	}
	var keep []v1.Hash
	for _, img := range images {
		raw, err := os.ReadFile(filepath.Join(d.layout.ImageDir(img.ID), manifestName))
		if os.IsNotExist(err) {
			continue // registered or built, not pulled
		}
		if err != nil {
			return nil, err
		}
		m, err := v1.ParseManifest(bytes.NewReader(raw))
		if err != nil {
			d.log.Warn("reading kept manifest", "image", img.Name, "err", err)
			continue
		}
		keep = append(keep, m.Config.Digest)
		for _, l := range m.Layers {
			keep = append(keep, l.Digest)
		}
	}
	return keep, nil
}
