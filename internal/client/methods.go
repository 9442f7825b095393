package client

import (
	"context"
	"net/http"

	"github.com/banger-dev/banger/internal/api"
	"github.com/banger-dev/banger/internal/model"
)

// Ping returns the daemon's status once it is ready to serve requests.
func (c *Client) Ping(ctx context.Context) (api.Status, error) {
	var st api.Status
	err := c.Do(ctx, http.MethodGet, api.PathPing, nil, &st)
	return st, err
}

// Status describes the running daemon.
func (c *Client) Status(ctx context.Context) (api.Status, error) {
	var st api.Status
	err := c.Do(ctx, http.MethodGet, api.PathStatus, nil, &st)
	return st, err
}

// Shutdown asks the daemon to stop; it returns once the daemon has accepted.
func (c *Client) Shutdown(ctx context.Context) error {
	return c.Do(ctx, http.MethodPost, api.PathShutdown, nil, nil)
}

// ListImages returns every image, sorted by name.
func (c *Client) ListImages(ctx context.Context) ([]model.Image, error) {
	var images []model.Image
	err := c.Do(ctx, http.MethodGet, api.PathImages, nil, &images)
	return images, err
}

// InspectImage returns the image called name.
func (c *Client) InspectImage(ctx context.Context, name string) (model.Image, error) {
	var img model.Image
	err := c.Do(ctx, http.MethodGet, api.ImagePath(name), nil, &img)
	return img, err
}

// RemoveImage deletes the image called name and its files.
func (c *Client) RemoveImage(ctx context.Context, name string) error {
	return c.Do(ctx, http.MethodDelete, api.ImagePath(name), nil, nil)
}

// RegisterImage copies (or moves) an ext4 file into the image store.
func (c *Client) RegisterImage(ctx context.Context, req api.RegisterImageRequest, progress api.ProgressFunc) (model.Image, error) {
	var img model.Image
	err := c.Stream(ctx, http.MethodPost, api.PathImageRegister, req, progress, &img)
	return img, err
}
