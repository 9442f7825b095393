package client

import (
	"context"
	"net/http"

	"github.com/banger-dev/banger/internal/api"
)

// BuildImage builds a new image from a base image in a transient VM,
// reporting progress and the steps' output.
func (c *Client) BuildImage(ctx context.Context, req api.BuildImageRequest, progress api.ProgressFunc) (api.BuildResult, error) {
	var res api.BuildResult
	err := c.Stream(ctx, http.MethodPost, api.PathImageBuild, req, progress, &res)
	return res, err
}
