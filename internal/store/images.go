package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/banger-dev/banger/internal/errdefs"
	"github.com/banger-dev/banger/internal/model"
)

const imageColumns = `id, name, ref, digest, platform, rootfs_path, size_bytes, managed, kernel, config, parent, created`

// CreateImage inserts img. A taken name or id fails with errdefs.ErrExists.
func (s *Store) CreateImage(ctx context.Context, img model.Image) error {
	cfg, err := json.Marshal(img.Config)
	if err != nil {
		return fmt.Errorf("encoding image config: %w", err)
	}
	_, err = s.db.ExecContext(ctx, `INSERT INTO images (`+imageColumns+`) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)`,
		img.ID, img.Name, img.Ref, img.Digest, img.Platform, img.RootfsPath, img.SizeBytes,
		img.Managed, img.Kernel, string(cfg), img.Parent, formatTime(img.Created))
	if err != nil {
		return classify(err, fmt.Sprintf("image %q", img.Name))
	}
	return nil
}

// UpdateImage rewrites every field of the image with img.ID.
func (s *Store) UpdateImage(ctx context.Context, img model.Image) error {
	cfg, err := json.Marshal(img.Config)
	if err != nil {
		return fmt.Errorf("encoding image config: %w", err)
	}
	return s.execOne(ctx, fmt.Sprintf("image %q", img.Name), `UPDATE images SET name=?, ref=?, digest=?, platform=?,
		rootfs_path=?, size_bytes=?, managed=?, kernel=?, config=?, parent=?, created=? WHERE id=?`,
		img.Name, img.Ref, img.Digest, img.Platform, img.RootfsPath, img.SizeBytes, img.Managed,
		img.Kernel, string(cfg), img.Parent, formatTime(img.Created), img.ID)
}

// GetImage returns the image called name, or errdefs.ErrNotFound.
func (s *Store) GetImage(ctx context.Context, name string) (model.Image, error) {
	row := s.db.QueryRowContext(ctx, `SELECT `+imageColumns+` FROM images WHERE name = ?`, name)
	return scanImage(row, fmt.Sprintf("image %q", name))
}

// GetImageByID returns the image with id, or errdefs.ErrNotFound.
func (s *Store) GetImageByID(ctx context.Context, id string) (model.Image, error) {
	row := s.db.QueryRowContext(ctx, `SELECT `+imageColumns+` FROM images WHERE id = ?`, id)
	return scanImage(row, fmt.Sprintf("image id %q", id))
}

// ListImages returns every image, sorted by name.
func (s *Store) ListImages(ctx context.Context) ([]model.Image, error) {
	return listRows(ctx, s, `SELECT `+imageColumns+` FROM images ORDER BY name`, "image", scanImage)
}

// DeleteImage removes the image called name, or fails with errdefs.ErrNotFound.
func (s *Store) DeleteImage(ctx context.Context, name string) error {
	return s.execOne(ctx, fmt.Sprintf("image %q", name), `DELETE FROM images WHERE name = ?`, name)
}

// scanner is the part of *sql.Row and *sql.Rows that scanning needs.
type scanner interface{ Scan(dest ...any) error }

func scanImage(row scanner, what string) (model.Image, error) {
	var img model.Image
	var cfg, created string
	err := row.Scan(&img.ID, &img.Name, &img.Ref, &img.Digest, &img.Platform, &img.RootfsPath,
		&img.SizeBytes, &img.Managed, &img.Kernel, &cfg, &img.Parent, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return img, errdefs.Newf(errdefs.ErrNotFound, "%s not found", what)
	}
	if err != nil {
		return img, fmt.Errorf("reading %s: %w", what, err)
	}
	if err := json.Unmarshal([]byte(cfg), &img.Config); err != nil {
		return img, fmt.Errorf("decoding config of image %q: %w", img.Name, err)
	}
	img.Created, err = parseTime(created)
	return img, err
}

// ReplaceImage atomically points the row of the image with oldID at img
// (new id, files and digest): one statement, so readers see either the old
// image or the new one.
func (s *Store) ReplaceImage(ctx context.Context, oldID string, img model.Image) error {
	cfg, err := json.Marshal(img.Config)
	if err != nil {
		return fmt.Errorf("encoding image config: %w", err)
	}
	return s.execOne(ctx, fmt.Sprintf("image %q", img.Name), `UPDATE images SET id=?, name=?, ref=?, digest=?, platform=?,
		rootfs_path=?, size_bytes=?, managed=?, kernel=?, config=?, parent=?, created=? WHERE id=?`,
		img.ID, img.Name, img.Ref, img.Digest, img.Platform, img.RootfsPath, img.SizeBytes, img.Managed,
		img.Kernel, string(cfg), img.Parent, formatTime(img.Created), oldID)
}
