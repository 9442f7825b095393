package daemon

import (
	"errors"
	"reflect"
	"testing"

	"github.com/banger-dev/banger/internal/api"
	"github.com/banger-dev/banger/internal/errdefs"
	"github.com/banger-dev/banger/internal/model"
)

func TestGuestConfig(t *testing.T) {
	img := model.Image{Name: "app", Config: model.ImageConfig{Entrypoint: []string{"/bin/tini", "--"},
		Cmd: []string{"serve"}, Env: []string{"PATH=/bin", "A=1"}, WorkingDir: "/srv", User: "app"}}
	cfg, err := guestConfig("web", img, api.RunVMRequest{Env: []string{"A=2"}})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"/bin/tini", "--", "serve"}; !reflect.DeepEqual(cfg.Process.Args, want) {
		t.Errorf("args %q, want %q", cfg.Process.Args, want)
	}
	if want := []string{"PATH=/bin", "A=1", "A=2"}; !reflect.DeepEqual(cfg.Process.Env, want) {
		t.Errorf("env %q, want %q", cfg.Process.Env, want)
	}
	if cfg.Hostname != "web" || cfg.Process.WorkingDir != "/srv" || cfg.Process.User != "app" || cfg.Network == nil {
		t.Errorf("config %+v", cfg)
	}
	cfg, err = guestConfig("web", img, api.RunVMRequest{Cmd: []string{"sh", "-c", "x"}})
	if err != nil || !reflect.DeepEqual(cfg.Process.Args, []string{"/bin/tini", "--", "sh", "-c", "x"}) {
		t.Errorf("cmd override: %q, %v", cfg.Process.Args, err)
	}
	if _, err := guestConfig("web", model.Image{Name: "empty"}, api.RunVMRequest{}); !errors.Is(err, errdefs.ErrInvalid) {
		t.Errorf("nothing to run: %v", err)
	}
}
