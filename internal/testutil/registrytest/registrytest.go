// Package registrytest runs Debian's real container registry
// (/usr/bin/docker-registry, CNCF distribution 2.8) for tests: on a free
// 127.0.0.1 port, optionally behind TLS with a fresh self-signed CA and
// behind htpasswd basic auth, and writes docker config.json files for it.
// Tests that call Start are skipped, with a message naming the Debian
// package, when the binary is missing.
package registrytest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// Binary is where Debian's docker-registry package installs the registry.
const Binary = "/usr/bin/docker-registry"

// Options choose the registry's setup. The zero value is a plain-HTTP
// registry without auth.
type Options struct {
	// TLS serves HTTPS with a self-signed certificate for 127.0.0.1 and
	// localhost; its PEM is at Registry.CAFile.
	TLS bool
	// User and Password, when User is set, require basic auth (htpasswd,
	// bcrypt; needs htpasswd from apache2-utils).
	User, Password string
}

// Registry is a running registry.
type Registry struct {
	// Host is "127.0.0.1:port", ready to prefix repository names.
	Host string
	// CAFile is the PEM certificate to trust (empty without TLS).
	CAFile string
	// Dir holds the config, certificate and storage.
	Dir string

	cmd  *exec.Cmd
	done chan struct{}
}

// Start runs a registry for the rest of the test and stops it on cleanup.
func Start(t testing.TB, opts Options) *Registry {
	t.Helper()
	if _, err := os.Stat(Binary); err != nil {
		t.Skipf("skipping: %s not found (apt-get install docker-registry)", Binary)
	}
	r := &Registry{Dir: t.TempDir()}
	var htpasswd string
	if opts.User != "" {
		htpasswd = writeHtpasswd(t, r.Dir, opts.User, opts.Password)
	}
	var cert, key string
	if opts.TLS {
		cert, key = writeCert(t, r.Dir)
		r.CAFile = cert
	}
	var lastErr error
	for range 5 { // a free port can be taken between probe and bind
		port := freePort(t)
		r.Host = fmt.Sprintf("127.0.0.1:%d", port)
		cfg := writeConfig(t, r.Dir, r.Host, cert, key, htpasswd)
		if lastErr = r.run(cfg); lastErr == nil {
			t.Cleanup(r.Stop)
			return r
		}
	}
	t.Fatalf("starting docker-registry: %v", lastErr)
	return nil
}

func (r *Registry) run(cfg string) error {
	var out bytes.Buffer
	r.cmd = exec.Command(Binary, "serve", cfg)
	r.cmd.Stdout, r.cmd.Stderr = &out, &out
	if err := r.cmd.Start(); err != nil {
		return err
	}
	r.done = make(chan struct{})
	go func() { r.cmd.Wait(); close(r.done) }()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-r.done:
			return fmt.Errorf("docker-registry exited: %s", out.String())
		default:
		}
		if r.ready() {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	r.Stop()
	return fmt.Errorf("docker-registry not ready after 15s: %s", out.String())
}

// ready probes /v2/: any HTTP answer (200 or 401) means it is serving.
func (r *Registry) ready() bool {
	scheme := "http"
	tr := &http.Transport{}
	if r.CAFile != "" {
		scheme = "https"
		tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} // only a liveness probe
	}
	c := &http.Client{Transport: tr, Timeout: time.Second}
	resp, err := c.Get(scheme + "://" + r.Host + "/v2/")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return true
}

// Stop ends the registry; Start registers it for cleanup already.
func (r *Registry) Stop() {
	if r.cmd == nil || r.cmd.Process == nil {
		return
	}
	select {
	case <-r.done:
		return
	default:
	}
	r.cmd.Process.Kill()
	<-r.done
}

// Transport is an HTTP transport that trusts the registry's certificate,
// for pushing test images (remote.WithTransport).
func (r *Registry) Transport(t testing.TB) *http.Transport {
	t.Helper()
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if r.CAFile == "" {
		return tr
	}
	pem, err := os.ReadFile(r.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	tr.TLSClientConfig = &tls.Config{RootCAs: pool}
	return tr
}

// WriteDockerConfig writes dir/config.json giving user:password for the
// registry, and returns dir, ready for DOCKER_CONFIG.
func (r *Registry) WriteDockerConfig(t testing.TB, dir, user, password string) string {
	t.Helper()
	cfg := map[string]any{"auths": map[string]any{
		r.Host: map[string]string{"auth": base64.StdEncoding.EncodeToString([]byte(user + ":" + password))},
	}}
	data, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), data, 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func writeConfig(t testing.TB, dir, addr, cert, key, htpasswd string) string {
	t.Helper()
	cfg := fmt.Sprintf("version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\n"+
		"storage:\n  filesystem:\n    rootdirectory: %s\n  delete:\n    enabled: true\n"+
		"http:\n  addr: %s\n", filepath.Join(dir, "storage"), addr)
	if cert != "" {
		cfg += fmt.Sprintf("  tls:\n    certificate: %s\n    key: %s\n", cert, key)
	}
	if htpasswd != "" {
		cfg += fmt.Sprintf("auth:\n  htpasswd:\n    realm: banger-test\n    path: %s\n", htpasswd)
	}
	p := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func writeHtpasswd(t testing.TB, dir, user, password string) string {
	t.Helper()
	bin, err := exec.LookPath("htpasswd")
	if err != nil {
		t.Skip("skipping: htpasswd not found (apt-get install apache2-utils)")
	}
	out, err := exec.Command(bin, "-Bbn", user, password).Output()
	if err != nil {
		t.Fatalf("htpasswd: %v", err)
	}
	p := filepath.Join(dir, "htpasswd")
	if err := os.WriteFile(p, bytes.TrimSpace(out), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// writeCert makes a self-signed certificate for 127.0.0.1 and localhost
// (the same as openssl req -x509 with those subjectAltNames).
func writeCert(t testing.TB, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: "127.0.0.1"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:              []string{"localhost"},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}
