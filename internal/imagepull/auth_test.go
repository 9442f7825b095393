package imagepull

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/banger-dev/banger/internal/errdefs"
)

// requireBasicAuth makes the test registry demand user:pass.
func requireBasicAuth(tr *testRegistry, user, pass string) {
	tr.setFault(func(w http.ResponseWriter, r *http.Request, n int) bool {
		if u, p, ok := r.BasicAuth(); ok && u == user && p == pass {
			return false
		}
		w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		w.Write([]byte(`{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`))
		return true
	})
}

func writeConfig(t *testing.T, dir string, cfg map[string]any) string {
	t.Helper()
	data, _ := json.Marshal(cfg)
	p := filepath.Join(dir, "config.json")
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestAuthWithDockerConfig(t *testing.T) {
	tr := newTestRegistry(t)
	tr.push(t, "private:1", buildImage(t, amd64, gzipLayer(t, tarLayer(t, "secret", "s"))))
	requireBasicAuth(tr, "alice", "wonder")
	opts := fastOpts(t)
	dockerDir := os.Getenv("DOCKER_CONFIG")

	_, err := Resolve(context.Background(), tr.host+"/private:1", opts)
	if !errors.Is(err, ErrUnauthorized) || !strings.Contains(err.Error(), "run: banger login "+tr.host) {
		t.Fatalf("anonymous: want ErrUnauthorized naming the fix, got %v", err)
	}

	writeConfig(t, dockerDir, map[string]any{"auths": map[string]any{tr.host: map[string]string{"auth": base64.StdEncoding.EncodeToString([]byte("alice:wrong"))}}})
	_, err = Resolve(context.Background(), tr.host+"/private:1", opts)
	if !errors.Is(err, ErrUnauthorized) || !strings.Contains(err.Error(), "rejected the stored credentials") {
		t.Fatalf("wrong password: got %v", err)
	}

	writeConfig(t, dockerDir, map[string]any{"auths": map[string]any{tr.host: map[string]string{"auth": base64.StdEncoding.EncodeToString([]byte("alice:wonder"))}}})
	res, err := Resolve(context.Background(), tr.host+"/private:1", opts)
	if err != nil {
		t.Fatalf("with credentials: %v", err)
	}
	cl, _ := NewClient(opts)
	if err := newCache(t).FetchAll(context.Background(), cl, res, nil); err != nil {
		t.Fatalf("fetching with credentials: %v", err)
	}
}

func TestLoginLogout(t *testing.T) {
	tr := newTestRegistry(t)
	tr.push(t, "private:1", buildImage(t, amd64))
	requireBasicAuth(tr, "bob", "builder")
	opts := fastOpts(t)
	dockerDir := os.Getenv("DOCKER_CONFIG")
	cfgFile := writeConfig(t, dockerDir, map[string]any{"auths": map[string]any{"other.example": map[string]string{"auth": "eDp5"}}, "psFormat": "table"})

	err := Login(context.Background(), tr.host, "bob", "nope", opts)
	if !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("wrong password: want ErrUnauthorized, got %v", err)
	}
	if err := Login(context.Background(), tr.host, "bob", "builder", opts); err != nil {
		t.Fatalf("Login: %v", err)
	}
	fi, err := os.Stat(cfgFile)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("config.json: %v %v", fi, err)
	}
	var cfg struct {
		Auths    map[string]map[string]string `json:"auths"`
		PsFormat string                       `json:"psFormat"`
	}
	data, _ := os.ReadFile(cfgFile)
	if err := json.Unmarshal(data, &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.Auths[tr.host]["auth"] != base64.StdEncoding.EncodeToString([]byte("bob:builder")) || cfg.Auths["other.example"]["auth"] != "eDp5" || cfg.PsFormat != "table" {
		t.Fatalf("config after login: %s", data)
	}
	if _, err := Resolve(context.Background(), tr.host+"/private:1", opts); err != nil {
		t.Fatalf("Resolve after login: %v", err)
	}
	if err := Logout(tr.host, opts); err != nil {
		t.Fatal(err)
	}
	data, _ = os.ReadFile(cfgFile)
	if strings.Contains(string(data), tr.host) || !strings.Contains(string(data), "other.example") {
		t.Fatalf("config after logout: %s", data)
	}
}

func TestMissingCredentialHelper(t *testing.T) {
	tr := newTestRegistry(t)
	tr.push(t, "public:1", buildImage(t, amd64))
	opts := fastOpts(t)
	file := writeConfig(t, os.Getenv("DOCKER_CONFIG"), map[string]any{"credsStore": "banger-absent-helper"})
	_, err := Resolve(context.Background(), tr.host+"/public:1", opts)
	if !errors.Is(err, ErrCredHelper) || !errors.Is(err, errdefs.ErrInvalid) {
		t.Fatalf("want ErrCredHelper, got %v", err)
	}
	for _, want := range []string{"docker-credential-banger-absent-helper", file, "credsStore"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message %q lacks %q", err, want)
		}
	}
	// A helper for another registry only does not matter.
	writeConfig(t, os.Getenv("DOCKER_CONFIG"), map[string]any{"credHelpers": map[string]string{"elsewhere.example": "banger-absent-helper"}})
	if _, err := Resolve(context.Background(), tr.host+"/public:1", opts); err != nil {
		t.Fatalf("unrelated helper: %v", err)
	}
}

// requireBearer makes the test registry behave like Docker Hub or GHCR: a
// Bearer challenge pointing at /token, which hands out a token for user:pass
// (or an anonymous one when anon is set).
func requireBearer(tr *testRegistry, user, pass string, anon bool) {
	tr.setFault(func(w http.ResponseWriter, r *http.Request, n int) bool {
		if r.URL.Path == "/token" {
			u, p, ok := r.BasicAuth()
			switch {
			case ok && u == user && p == pass:
				w.Write([]byte(`{"token":"user-token"}`))
			case !ok && anon:
				w.Write([]byte(`{"token":"anon-token"}`))
			default:
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusUnauthorized)
				w.Write([]byte(`{"errors":[{"code":"UNAUTHORIZED","message":"bad credentials"}]}`))
			}
			return true
		}
		switch r.Header.Get("Authorization") {
		case "Bearer user-token":
			return false
		case "Bearer anon-token":
			if r.URL.Path == "/v2/" {
				return false
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte(`{"errors":[{"code":"UNAUTHORIZED","message":"pull access denied, repository does not exist or may require authorization"}]}`))
			return true
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="http://`+tr.host+`/token",service="test"`)
		w.WriteHeader(http.StatusUnauthorized)
		return true
	})
}

func TestBearerTokenAuth(t *testing.T) {
	tr := newTestRegistry(t)
	tr.push(t, "org/tool:v1", buildImage(t, amd64, gzipLayer(t, tarLayer(t, "bin/tool", "t"))))
	requireBearer(tr, "carol", "token-pass", true)
	opts := fastOpts(t)

	_, err := Resolve(context.Background(), tr.host+"/org/tool:v1", opts)
	if !errors.Is(err, ErrUnauthorized) || !strings.Contains(err.Error(), "banger login "+tr.host) {
		t.Fatalf("anonymous token: want ErrUnauthorized, got %v", err)
	}
	if err := Login(context.Background(), tr.host, "carol", "wrong", opts); !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("Login with a wrong password: want ErrUnauthorized, got %v", err)
	}
	if err := Login(context.Background(), tr.host, "carol", "token-pass", opts); err != nil {
		t.Fatalf("Login: %v", err)
	}
	res, err := Resolve(context.Background(), tr.host+"/org/tool:v1", opts)
	if err != nil {
		t.Fatalf("Resolve after login: %v", err)
	}
	cl, _ := NewClient(opts)
	if err := newCache(t).FetchAll(context.Background(), cl, res, nil); err != nil {
		t.Fatalf("FetchAll with a token: %v", err)
	}
}

// installFakeHelper puts a docker-credential-bangertest script on PATH that
// keeps one credential in a file, speaking the credential-helper protocol.
func installFakeHelper(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	store := filepath.Join(dir, "stored.json")
	script := `#!/bin/sh
case "$1" in
store) cat > "` + store + `" ;;
get) cat > /dev/null; if [ -f "` + store + `" ]; then cat "` + store + `"; else echo "credentials not found in native keychain"; exit 1; fi ;;
erase) cat > /dev/null; rm -f "` + store + `" ;;
*) exit 1 ;;
esac
`
	if err := os.WriteFile(filepath.Join(dir, "docker-credential-bangertest"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	return store
}

func TestLoginWithCredentialHelper(t *testing.T) {
	tr := newTestRegistry(t)
	tr.push(t, "private:1", buildImage(t, amd64))
	requireBasicAuth(tr, "dave", "helper-pass")
	opts := fastOpts(t)
	store := installFakeHelper(t)
	cfgFile := writeConfig(t, os.Getenv("DOCKER_CONFIG"), map[string]any{"credsStore": "bangertest"})

	if _, err := Resolve(context.Background(), tr.host+"/private:1", opts); !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("before login: want ErrUnauthorized, got %v", err)
	}
	if err := Login(context.Background(), tr.host, "dave", "helper-pass", opts); err != nil {
		t.Fatalf("Login: %v", err)
	}
	data, _ := os.ReadFile(cfgFile)
	if strings.Contains(string(data), "helper-pass") || strings.Contains(string(data), base64.StdEncoding.EncodeToString([]byte("dave:helper-pass"))) {
		t.Fatalf("password written to config.json despite credsStore: %s", data)
	}
	if stored, err := os.ReadFile(store); err != nil || !strings.Contains(string(stored), "helper-pass") {
		t.Fatalf("helper did not store the credentials: %s %v", stored, err)
	}
	if _, err := Resolve(context.Background(), tr.host+"/private:1", opts); err != nil {
		t.Fatalf("Resolve with helper credentials: %v", err)
	}
	if err := Logout(tr.host, opts); err != nil {
		t.Fatalf("Logout: %v", err)
	}
	if _, err := os.Stat(store); !os.IsNotExist(err) {
		t.Fatalf("helper still holds credentials after logout: %v", err)
	}
}
