package store

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/banger-dev/banger/internal/errdefs"
	"github.com/banger-dev/banger/internal/model"
)

func TestVMRoundTrip(t *testing.T) {
	s, _ := openTemp(t)
	ctx := context.Background()
	vm := model.VM{Name: "web", ID: "abc", Image: "busybox", Kernel: "cloud", State: model.VMRunning, PID: 42,
		CPUs: 2, MemoryMiB: 512, Dir: "/x/vms/abc", ExitCode: -1, AutoRemove: true,
		Created: time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)}
	if err := s.CreateVM(ctx, vm); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateVM(ctx, vm); !errors.Is(err, errdefs.ErrExists) {
		t.Errorf("duplicate create: %v", err)
	}
	got, err := s.GetVM(ctx, "web")
	if err != nil || !reflect.DeepEqual(got, vm) {
		t.Fatalf("GetVM = %+v, %v; want %+v", got, err, vm)
	}
	if err := s.SetVMState(ctx, "abc", model.VMStopped, 0, 7); err != nil {
		t.Fatal(err)
	}
	vms, err := s.ListVMs(ctx)
	if err != nil || len(vms) != 1 || vms[0].State != model.VMStopped || vms[0].PID != 0 || vms[0].ExitCode != 7 {
		t.Fatalf("ListVMs = %+v, %v", vms, err)
	}
	if err := s.DeleteVM(ctx, "web"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetVM(ctx, "web"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("GetVM after delete: %v", err)
	}
	if err := s.SetVMState(ctx, "abc", model.VMStopped, 0, 0); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("SetVMState of a missing vm: %v", err)
	}
}
