package daemon

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// dialEnv makes the test binary dial the socket it names and exit 0 when
// the server refuses it, 3 when it answers.
const dialEnv = "BANGER_DAEMON_TEST_DIAL"

func init() {
	if socket := os.Getenv(dialEnv); socket != "" {
		hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", socket)
		}}}
		if resp, err := hc.Get("http://banger/"); err == nil {
			resp.Body.Close()
			os.Exit(3)
		}
		os.Exit(0)
	}
}

func TestPeerCredentialsRejectOtherUsers(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to run a client as another user")
	}
	dir, err := os.MkdirTemp("", "bgp")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	os.Chmod(dir, 0o755)
	// A copy of this test binary that user nobody can execute.
	bin := filepath.Join(dir, "dialer")
	data, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	socket := filepath.Join(dir, "s.sock")
	ln, err := net.Listen("unix", socket)
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(socket, 0o666) // only the credential check stands in the way
	var logged syncBuffer
	pl := &peerListener{Listener: ln, uid: 0, log: slog.New(slog.NewTextHandler(&logged, nil))}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") })}
	go srv.Serve(pl)
	defer srv.Close()

	cmd := exec.Command(bin)
	cmd.Env = []string{dialEnv + "=" + socket}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("a connection from uid 65534 was served (or the dialer failed): %v\n%s", err, out)
	}
	if !strings.Contains(logged.String(), "uid 65534") {
		t.Fatalf("the refusal was not the credential check; log: %s", logged.String())
	}
	cmd = exec.Command(bin)
	cmd.Env = []string{dialEnv + "=" + socket}
	if err, ok := cmd.Run().(*exec.ExitError); !ok || err.ExitCode() != 3 {
		t.Fatalf("a connection from root was not served: %v", err)
	}
}

// syncBuffer is a bytes.Buffer safe for concurrent writes and reads.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
