package daemon

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/banger-dev/banger/internal/agent"
	"github.com/banger-dev/banger/internal/api"
	"github.com/banger-dev/banger/internal/errdefs"
	"github.com/banger-dev/banger/internal/guestinit/vmconfig"
	"github.com/banger-dev/banger/internal/model"
)

// TestAttachRefusals covers the attach endpoints' answers before any
// protocol switch: they are ordinary errors with categories.
func TestAttachRefusals(t *testing.T) {
	layout, _ := tempLayout(t)
	td := startDaemon(t, layout, Hooks{})
	ctx := context.Background()
	_, err := td.client.AttachExec(ctx, "nope", api.ExecAttachRequest{ExecVMRequest: api.ExecVMRequest{Cmd: []string{"true"}}})
	if !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("exec in a missing vm: %v", err)
	}
	if _, err := td.client.AttachRun(ctx, api.RunVMRequest{Image: "x", Detach: true}); !errors.Is(err, errdefs.ErrInvalid) {
		t.Errorf("detached attach: %v", err)
	}
	if _, err := td.client.AttachRun(ctx, api.RunVMRequest{Image: "missing"}); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("run of a missing image: %v", err)
	}
	status, body := rawPost(t, layout.SocketPath(), api.VMExecAttachPath("x"), []byte(`{"cmd":["true"]}`))
	if status != http.StatusBadRequest || !strings.Contains(body.Message, "Upgrade: "+api.AttachProtocol) {
		t.Errorf("attach without upgrade: %d %+v", status, body)
	}
}

func TestFrameWriterChunks(t *testing.T) {
	var buf bytes.Buffer
	w := frameWriter{agent.NewEncoder(&buf), agent.FrameStdout}
	data := bytes.Repeat([]byte("x"), 3*agent.MaxChunk)
	if n, err := w.Write(data); n != len(data) || err != nil {
		t.Fatalf("write: %d, %v", n, err)
	}
	dec := agent.NewDecoder(&buf)
	var got []byte
	for {
		f, err := dec.Next()
		if err != nil {
			break
		}
		if f.Type != agent.FrameStdout || len(f.Payload)+agent.HeaderSize > agent.MaxChunk {
			t.Fatalf("frame %v of %d bytes", f.Type, len(f.Payload))
		}
		got = append(got, f.Payload...)
	}
	if !bytes.Equal(got, data) {
		t.Errorf("reassembled %d bytes, want %d", len(got), len(data))
	}
}

func TestGuestConfigInit(t *testing.T) {
	img := model.Image{Name: "sysd"}
	cfg, err := guestConfig("h", img, api.RunVMRequest{Init: vmconfig.InitImage, Detach: true})
	if err != nil || cfg.Init != vmconfig.InitImage {
		t.Errorf("init=image: %+v, %v", cfg, err)
	}
	for _, req := range []api.RunVMRequest{
		{Init: vmconfig.InitImage},                                    // foreground
		{Init: vmconfig.InitImage, Detach: true, Cmd: []string{"sh"}}, // a command
		{Init: "systemd", Detach: true, Cmd: []string{"sh"}},          // unknown mode
	} {
		if _, err := guestConfig("h", img, req); !errors.Is(err, errdefs.ErrInvalid) {
			t.Errorf("%+v accepted: %v", req, err)
		}
	}
	cfg, err = guestConfig("h", img, api.RunVMRequest{Init: vmconfig.InitBanger, Cmd: []string{"true"}})
	if err != nil || cfg.Init != vmconfig.InitBanger || len(cfg.Process.Args) != 1 {
		t.Errorf("init=banger: %+v, %v", cfg, err)
	}
}

func TestGuestConfigTerminal(t *testing.T) {
	req := api.RunVMRequest{Cmd: []string{"sh"}, Stdin: true, TTY: true, Rows: 30, Cols: 90}
	cfg, err := guestConfig("h", model.Image{Name: "i"}, req)
	p := cfg.Process
	if err != nil || !p.Stdin || !p.PTY || p.TTY || p.Rows != 30 || p.Cols != 90 {
		t.Errorf("-it: %+v, %v", p, err)
	}
}
