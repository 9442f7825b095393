package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/banger-dev/banger/internal/api"
	"github.com/banger-dev/banger/internal/errdefs"
)

// rawPost sends body as-is to the daemon and returns status and decoded error.
func rawPost(t *testing.T, socket, path string, body []byte) (int, api.Error) {
	t.Helper()
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", socket)
	}}}
	resp, err := hc.Post("http://banger"+path, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var e api.Error
	json.NewDecoder(resp.Body).Decode(&e)
	return resp.StatusCode, e
}

func TestMalformedRequestsAre400(t *testing.T) {
	layout, _ := tempLayout(t)
	startDaemon(t, layout, Hooks{})
	huge := append([]byte(`{"name":"`), bytes.Repeat([]byte("a"), 2<<20)...)
	huge = append(huge, `"}`...)
	cases := map[string][]byte{
		"malformed":     []byte(`{"name":`),
		"unknown field": []byte(`{"name":"a","rootfs":"/x","colour":"red"}`),
		"trailing data": []byte(`{"name":"a","rootfs":"/x"} {}`),
		"wrong type":    []byte(`{"name":7}`),
		"huge":          huge,
	}
	for name, body := range cases {
		status, e := rawPost(t, layout.SocketPath(), api.PathImageRegister, body)
		if status != http.StatusBadRequest || e.Kind != "invalid" || !strings.HasPrefix(e.Message, "decoding request body") {
			t.Errorf("%s: status %d, body %+v", name, status, e)
		}
	}
	if status, e := rawPost(t, layout.SocketPath(), "/v1/nothing", nil); status != http.StatusNotFound || e.Kind != "not_found" {
		t.Errorf("unknown path: %d %+v", status, e)
	}
}

func TestSocketPermissions(t *testing.T) {
	layout, _ := tempLayout(t)
	startDaemon(t, layout, Hooks{})
	sock, err := os.Stat(layout.SocketPath())
	if err != nil {
		t.Fatal(err)
	}
	if sock.Mode()&os.ModeSocket == 0 || sock.Mode().Perm() != 0o600 {
		t.Fatalf("socket mode %v, want socket 0600", sock.Mode())
	}
	dir, err := os.Stat(layout.RuntimeDir)
	if err != nil || dir.Mode().Perm() != 0o700 {
		t.Fatalf("socket dir mode %v (%v), want 0700", dir.Mode(), err)
	}
}

func TestSecondDaemonRefused(t *testing.T) {
	layout, _ := tempLayout(t)
	td := startDaemon(t, layout, Hooks{})
	err := Run(context.Background(), Config{Layout: layout})
	if !errors.Is(err, errdefs.ErrConflict) || !strings.Contains(err.Error(), "another banger daemon") {
		t.Fatalf("second daemon: %v", err)
	}
	if _, err := td.client.Ping(context.Background()); err != nil {
		t.Fatalf("first daemon harmed by the second: %v", err)
	}
}

func TestStaleSocketReplaced(t *testing.T) {
	layout, _ := tempLayout(t)
	if err := os.MkdirAll(layout.RuntimeDir, 0o700); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("unix", layout.SocketPath())
	if err != nil {
		t.Fatal(err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close() // the socket file stays, nobody answers: a crashed daemon's leftover
	td := startDaemon(t, layout, Hooks{})
	if _, err := td.client.Status(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestShutdownEndpoint(t *testing.T) {
	layout, _ := tempLayout(t)
	td := startDaemon(t, layout, Hooks{})
	st, err := td.client.Status(context.Background())
	if err != nil || st.PID != os.Getpid() || st.Version != "test" || st.Socket != layout.SocketPath() {
		t.Fatalf("status = %+v, %v", st, err)
	}
	if err := td.client.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := <-td.done; err != nil {
		t.Fatalf("Run after shutdown: %v", err)
	}
	close(td.done)
	if _, err := os.Stat(layout.SocketPath()); !os.IsNotExist(err) {
		t.Fatalf("socket left behind: %v", err)
	}
	if _, err := td.client.Ping(context.Background()); !errors.Is(err, errdefs.ErrUnavailable) {
		t.Fatalf("ping after stop: %v", err)
	}
}

func TestStartupFailureReported(t *testing.T) {
	layout, _ := tempLayout(t)
	if err := layout.EnsureState(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(layout.DBPath(), []byte("not a database, just text that is long enough"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := Run(context.Background(), Config{Layout: layout})
	if err == nil {
		t.Fatal("want an error for a corrupt database")
	}
	logged, _ := io.ReadAll(must(os.Open(layout.LogPath())))
	if !bytes.Contains(logged, []byte("daemon listening")) {
		t.Fatalf("log lacks startup lines: %s", logged)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
