package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/banger-dev/banger/internal/errdefs"
	"github.com/banger-dev/banger/internal/model"
)

const kernelColumns = `name, version, arch, source, digest, dir, size_bytes, created`

// CreateKernel inserts k. A taken name fails with errdefs.ErrExists.
func (s *Store) CreateKernel(ctx context.Context, k model.Kernel) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO kernels (`+kernelColumns+`) VALUES (?,?,?,?,?,?,?,?)`,
		k.Name, k.Version, k.Arch, k.Source, k.Digest, k.Dir, k.SizeBytes, formatTime(k.Created))
	if err != nil {
		return classify(err, fmt.Sprintf("kernel %q", k.Name))
	}
	return nil
}

// UpdateKernel rewrites every field of the kernel called k.Name.
func (s *Store) UpdateKernel(ctx context.Context, k model.Kernel) error {
	return s.execOne(ctx, fmt.Sprintf("kernel %q", k.Name),
		`UPDATE kernels SET version=?, arch=?, source=?, digest=?, dir=?, size_bytes=?, created=? WHERE name=?`,
		k.Version, k.Arch, k.Source, k.Digest, k.Dir, k.SizeBytes, formatTime(k.Created), k.Name)
}

// GetKernel returns the kernel called name, or errdefs.ErrNotFound.
func (s *Store) GetKernel(ctx context.Context, name string) (model.Kernel, error) {
	row := s.db.QueryRowContext(ctx, `SELECT `+kernelColumns+` FROM kernels WHERE name = ?`, name)
	return scanKernel(row, fmt.Sprintf("kernel %q", name))
}

// ListKernels returns every kernel, sorted by name.
func (s *Store) ListKernels(ctx context.Context) ([]model.Kernel, error) {
	return listRows(ctx, s, `SELECT `+kernelColumns+` FROM kernels ORDER BY name`, "kernel", scanKernel)
}

// DeleteKernel removes the kernel called name, or fails with errdefs.ErrNotFound.
func (s *Store) DeleteKernel(ctx context.Context, name string) error {
	return s.execOne(ctx, fmt.Sprintf("kernel %q", name), `DELETE FROM kernels WHERE name = ?`, name)
}

func scanKernel(row scanner, what string) (model.Kernel, error) {
	var k model.Kernel
	var created string
	err := row.Scan(&k.Name, &k.Version, &k.Arch, &k.Source, &k.Digest, &k.Dir, &k.SizeBytes, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return k, errdefs.Newf(errdefs.ErrNotFound, "%s not found", what)
	}
	if err != nil {
		return k, fmt.Errorf("reading %s: %w", what, err)
	}
	k.Created, err = parseTime(created)
	return k, err
}
