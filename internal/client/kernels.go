package client

import (
	"context"
	"net/http"

	"github.com/banger-dev/banger/internal/api"
	"github.com/banger-dev/banger/internal/model"
)

// PullKernel installs a kernel from a catalog, reporting download progress.
func (c *Client) PullKernel(ctx context.Context, req api.PullKernelRequest, progress api.ProgressFunc) (api.KernelResult, error) {
	var res api.KernelResult
	err := c.Stream(ctx, http.MethodPost, api.PathKernelPull, req, progress, &res)
	return res, err
}

// ImportKernel installs a kernel from local files or a package.
func (c *Client) ImportKernel(ctx context.Context, req api.ImportKernelRequest, progress api.ProgressFunc) (api.KernelResult, error) {
	var res api.KernelResult
	err := c.Stream(ctx, http.MethodPost, api.PathKernelImport, req, progress, &res)
	return res, err
}

// ListKernels returns every installed kernel, sorted by name.
func (c *Client) ListKernels(ctx context.Context) ([]model.Kernel, error) {
	var kernels []model.Kernel
	err := c.Do(ctx, http.MethodGet, api.PathKernels, nil, &kernels)
	return kernels, err
}

// InspectKernel returns the kernel called name and its inspection report.
func (c *Client) InspectKernel(ctx context.Context, name string) (api.KernelDetails, error) {
	var k api.KernelDetails
	err := c.Do(ctx, http.MethodGet, api.KernelPath(name), nil, &k)
	return k, err
}

// RemoveKernel deletes the kernel called name and its files. Without force
// it refuses while an image names the kernel.
func (c *Client) RemoveKernel(ctx context.Context, name string, force bool) error {
	path := api.KernelPath(name)
	if force {
		path += "?force=1"
	}
	return c.Do(ctx, http.MethodDelete, path, nil, nil)
}

// SetImageKernel makes image boot with the installed kernel named kernel.
func (c *Client) SetImageKernel(ctx context.Context, image, kernel string) (model.Image, error) {
	var img model.Image
	err := c.Do(ctx, http.MethodPut, api.ImageKernelPath(image), api.SetImageKernelRequest{Kernel: kernel}, &img)
	return img, err
}
