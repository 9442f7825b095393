package client

import (
	"context"
	"net/http"

	"github.com/banger-dev/banger/internal/api"
)

// PullImage pulls an OCI image into the image store, reporting progress.
func (c *Client) PullImage(ctx context.Context, req api.PullImageRequest, progress api.ProgressFunc) (api.PullResult, error) {
	var res api.PullResult
	err := c.Stream(ctx, http.MethodPost, api.PathImagePull, req, progress, &res)
	return res, err
}

// PruneCache removes cached blobs no image needs (all of them with All).
func (c *Client) PruneCache(ctx context.Context, req api.PruneCacheRequest) (api.CacheUsage, error) {
	var res api.CacheUsage
	err := c.Do(ctx, http.MethodPost, api.PathImageCachePrune, req, &res)
	return res, err
}

// CacheUsage describes the blob cache.
func (c *Client) CacheUsage(ctx context.Context) (api.CacheUsage, error) {
	var res api.CacheUsage
	err := c.Do(ctx, http.MethodGet, api.PathImageCache, nil, &res)
	return res, err
}
