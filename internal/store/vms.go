package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/banger-dev/banger/internal/errdefs"
	"github.com/banger-dev/banger/internal/model"
)

const vmColumns = `id, name, image, kernel, state, pid, cpus, memory_mib, dir, exit_code, auto_remove, created`

// CreateVM inserts vm. A taken name or id fails with errdefs.ErrExists.
func (s *Store) CreateVM(ctx context.Context, vm model.VM) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO vms (`+vmColumns+`) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)`,
		vm.ID, vm.Name, vm.Image, vm.Kernel, vm.State, vm.PID, vm.CPUs, vm.MemoryMiB, vm.Dir,
		vm.ExitCode, vm.AutoRemove, formatTime(vm.Created))
	if err != nil {
		return classify(err, fmt.Sprintf("vm %q", vm.Name))
	}
	return nil
}

// SetVMState records the state, pid and exit code of the VM with that id
// (not name: a later VM may have taken the name of a removed one).
func (s *Store) SetVMState(ctx context.Context, id, state string, pid, exitCode int) error {
	return s.execOne(ctx, fmt.Sprintf("vm %s", id),
		`UPDATE vms SET state=?, pid=?, exit_code=? WHERE id=?`, state, pid, exitCode, id)
}

// GetVM returns the VM called name, or errdefs.ErrNotFound.
func (s *Store) GetVM(ctx context.Context, name string) (model.VM, error) {
	row := s.db.QueryRowContext(ctx, `SELECT `+vmColumns+` FROM vms WHERE name = ?`, name)
	return scanVM(row, fmt.Sprintf("vm %q", name))
}

// ListVMs returns every VM, sorted by name.
func (s *Store) ListVMs(ctx context.Context) ([]model.VM, error) {
	return listRows(ctx, s, `SELECT `+vmColumns+` FROM vms ORDER BY name`, "vm", scanVM)
}

// DeleteVM removes the VM called name, or fails with errdefs.ErrNotFound.
func (s *Store) DeleteVM(ctx context.Context, name string) error {
	return s.execOne(ctx, fmt.Sprintf("vm %q", name), `DELETE FROM vms WHERE name = ?`, name)
}

func scanVM(row scanner, what string) (model.VM, error) {
	var vm model.VM
	var created string
	err := row.Scan(&vm.ID, &vm.Name, &vm.Image, &vm.Kernel, &vm.State, &vm.PID, &vm.CPUs, &vm.MemoryMiB,
		&vm.Dir, &vm.ExitCode, &vm.AutoRemove, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return vm, errdefs.Newf(errdefs.ErrNotFound, "%s not found", what)
	}
	if err != nil {
		return vm, fmt.Errorf("reading %s: %w", what, err)
	}
	vm.Created, err = parseTime(created)
	return vm, err
}
