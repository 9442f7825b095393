package client

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/banger-dev/banger/internal/api"
	"github.com/banger-dev/banger/internal/daemon"
	"github.com/banger-dev/banger/internal/errdefs"
	"github.com/banger-dev/banger/internal/model"
	"github.com/banger-dev/banger/internal/paths"
)

// serve runs handler on a fresh Unix socket and returns its path.
func serve(t *testing.T, handler http.Handler) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "bgcl")
	if err != nil {
		t.Fatal(err)
	}
	socket := filepath.Join(dir, "s.sock")
	ln, err := net.Listen("unix", socket)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: handler}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close(); os.RemoveAll(dir) })
	return socket
}

func TestZeroValueUsesEnvironment(t *testing.T) {
	root, err := os.MkdirTemp("", "bgz")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(root)
	t.Setenv("HOME", root)
	t.Setenv("XDG_STATE_HOME", "")
	t.Setenv("XDG_CACHE_HOME", "")
	t.Setenv("XDG_RUNTIME_DIR", filepath.Join(root, "run"))
	var c Client
	if _, err := c.Ping(context.Background()); !errors.Is(err, errdefs.ErrUnavailable) ||
		!strings.Contains(err.Error(), filepath.Join(root, "run", "banger", "bangerd.sock")) {
		t.Fatalf("ping without daemon: %v", err)
	}

	layout, err := paths.FromEnv(os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- daemon.Run(ctx, daemon.Config{Layout: layout, Version: "v-test"}) }()
	defer func() { cancel(); <-done }()
	var c2 Client
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		st, err := c2.Ping(ctx)
		if err == nil {
			if st.Version != "v-test" {
				t.Fatalf("status %+v", st)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("daemon never answered: %v", err)
		}
	}
	if images, err := c2.ListImages(ctx); err != nil || len(images) != 0 {
		t.Fatalf("list = %v, %v", images, err)
	}
}

func TestStreamDeliversProgressAndResult(t *testing.T) {
	socket := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"type":"progress","phase":"copy","current":1,"total":2}`+"\n")
		io.WriteString(w, `{"type":"progress","phase":"copy","current":2,"total":2}`+"\n")
		io.WriteString(w, `{"type":"result","result":{"name":"x","id":"abc"}}`+"\n")
	}))
	c := &Client{SocketPath: socket}
	var seen []int64
	img, err := c.RegisterImage(context.Background(), api.RegisterImageRequest{Name: "x"}, func(ev api.Event) {
		seen = append(seen, ev.Current)
	})
	if err != nil || img.ID != "abc" || len(seen) != 2 || seen[1] != 2 {
		t.Fatalf("img %+v, err %v, progress %v", img, err, seen)
	}
}

func TestStreamErrors(t *testing.T) {
	cases := map[string]struct {
		body    string
		status  int
		check   func(error) bool
		message string
	}{
		"error event": {`{"type":"progress"}` + "\n" + `{"type":"error","error":{"message":"image \"x\" already exists","kind":"exists"}}` + "\n",
			200, func(err error) bool { return errors.Is(err, errdefs.ErrExists) }, `image "x" already exists`},
		"truncated": {`{"type":"progress"}` + "\n", 200, func(err error) bool { return err != nil },
			"the daemon closed the stream before the operation finished (see the daemon log)"},
		"status": {`{"message":"rootfs x is not an ext4 filesystem","kind":"invalid"}`, 400,
			func(err error) bool { return errors.Is(err, errdefs.ErrInvalid) }, "rootfs x is not an ext4 filesystem"},
		"no body": {"", 404, func(err error) bool { return errors.Is(err, errdefs.ErrNotFound) }, "daemon answered 404 Not Found"},
	}
	for name, tc := range cases {
		socket := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(tc.status)
			io.WriteString(w, tc.body)
		}))
		c := &Client{SocketPath: socket}
		_, err := c.RegisterImage(context.Background(), api.RegisterImageRequest{}, nil)
		if !tc.check(err) || err.Error() != tc.message {
			t.Errorf("%s: got %v", name, err)
		}
	}
}

// Canceling the caller's context closes the connection, which the server
// sees as its request context ending.
func TestStreamCancelReachesServer(t *testing.T) {
	serverSaw := make(chan error, 1)
	socket := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"type":"progress","phase":"wait"}`+"\n")
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
			serverSaw <- r.Context().Err()
		case <-time.After(10 * time.Second):
			serverSaw <- errors.New("request context never ended")
		}
	}))
	c := &Client{SocketPath: socket}
	ctx, cancel := context.WithCancel(context.Background())
	var img model.Image
	err := c.Stream(ctx, http.MethodPost, "/x", nil, func(api.Event) { cancel() }, &img)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("stream: %v", err)
	}
	if err := <-serverSaw; !errors.Is(err, context.Canceled) {
		t.Fatalf("server: %v", err)
	}
}
