package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/banger-dev/banger/internal/api"
)

// TestAPIAbuse sends the daemon requests no client of ours would: each must
// get the right status with a JSON error body, and the daemon must keep
// serving.
func TestAPIAbuse(t *testing.T) {
	t.Parallel()
	env := newEnv(t, envOptions{})
	env.ok(t, "image", "list") // starts the daemon
	st, err := env.status()
	if err != nil {
		t.Fatal(err)
	}
	huge := strings.Repeat("a", 2<<20)
	for _, tc := range []struct {
		name, method, path, body string
		status                   int
		kind                     string
	}{
		{"malformed JSON", "POST", api.PathImagePull, `{"ref": "x"`, 400, "invalid"},
		{"not JSON", "POST", api.PathImagePull, `ref=x`, 400, "invalid"},
		{"unknown field", "POST", api.PathImagePull, `{"ref":"x","surprise":1}`, 400, "invalid"},
		{"wrong type", "POST", api.PathImagePull, `{"ref":42}`, 400, "invalid"},
		{"trailing data", "POST", api.PathImagePull, `{"ref":"x"} {"ref":"y"}`, 400, "invalid"},
		{"negative size", "POST", api.PathImagePull, `{"ref":"x","size_bytes":-1}`, 400, "invalid"},
		{"2 MiB pull body", "POST", api.PathImagePull, `{"ref":"` + huge + `"}`, 400, "invalid"},
		{"2 MiB register body", "POST", api.PathImageRegister, `{"name":"` + huge + `"}`, 400, "invalid"},
		{"2 MiB prune body", "POST", api.PathImageCachePrune, `{"all":false,"pad":"` + huge + `"}`, 400, "invalid"},
		{"unknown path", "GET", "/v1/nope", "", 404, "not_found"},
		{"unknown version", "POST", "/v2/images/pull", `{}`, 404, "not_found"},
		{"climbing name", "DELETE", "/v1/images/..%2F..%2Fetc", "", 404, "not_found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, "http://banger"+tc.path, strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			resp, err := env.httpClient().Do(req)
			if err != nil {
				t.Fatalf("%s %s: %v", tc.method, tc.path, err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			var e api.Error
			jsonErr := json.Unmarshal(body, &e)
			if resp.StatusCode != tc.status || jsonErr != nil || e.Kind != tc.kind || e.Message == "" ||
				!strings.HasPrefix(resp.Header.Get("Content-Type"), api.ContentTypeJSON) {
				t.Errorf("%s %s: HTTP %d %s %.300s (JSON: %v), want %d with a JSON %q error",
					tc.method, tc.path, resp.StatusCode, resp.Header.Get("Content-Type"), body, jsonErr, tc.status, tc.kind)
			}
		})
	}
	if after, err := env.status(); err != nil || after.PID != st.PID {
		t.Fatalf("the daemon did not survive the abuse: pid %d → %d, %v", st.PID, after.PID, err)
	}
	if images, _ := env.checkState(t, stateCheck{}); len(images) != 0 {
		t.Errorf("abusive requests created images: %+v", images)
	}
}

// TestOtherUserCannotConnect runs a client as uid 65534 (nobody): the
// socket's directory keeps it out, and with the permissions loosened by
// hand the daemon's peer-credential check still hangs up on it.
func TestOtherUserCannotConnect(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("skipping: running a client as another user needs root")
	}
	env := newEnv(t, envOptions{})
	env.ok(t, "image", "list") // starts the daemon
	helper := filepath.Join(suite.dir, "e2e-helper")
	copyFile(t, os.Args[0], helper, 0o755)
	sock := env.layout.SocketPath()

	out := runAsNobody(t, helper, sock)
	if !strings.HasPrefix(out, "dial: ") || !strings.Contains(out, "permission denied") {
		t.Errorf("uid 65534 reached the socket with default permissions: %s", out)
	}

	for _, p := range []string{env.root, filepath.Join(env.root, "run"), filepath.Dir(sock)} {
		if err := os.Chmod(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(sock, 0o666); err != nil {
		t.Fatal(err)
	}
	out = runAsNobody(t, helper, sock)
	if !strings.HasPrefix(out, "read: ") {
		t.Errorf("uid 65534 got an answer through a world-writable socket: %s", out)
	}
	if _, err := env.status(); err != nil {
		t.Errorf("the daemon stopped answering its owner: %v", err)
	}
	if !strings.Contains(env.daemonLog(), "rejecting connection") {
		t.Error("the daemon log does not mention the rejected connection")
	}
}

// runAsNobody runs the dial helper as uid/gid 65534 and returns its report.
func runAsNobody(t *testing.T, helper, sock string) string {
	t.Helper()
	cmd := exec.Command(helper)
	cmd.Dir = "/"
	cmd.Env = []string{helperEnv + "=dial", "BANGER_E2E_SOCKET=" + sock}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("running the helper as uid 65534: %v\n%s", err, out)
	}
	t.Logf("as uid 65534: %s", strings.TrimSpace(string(out)))
	return strings.TrimSpace(string(out))
}

func copyFile(t *testing.T, src, dst string, perm os.FileMode) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, data, perm); err != nil {
		t.Fatal(err)
	}
}
