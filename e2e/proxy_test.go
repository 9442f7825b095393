package e2e

import (
	"bytes"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// faultProxy is a registry front that misbehaves on purpose: requests
// matching a fault get the fault's action, the rest pass through to the
// real registry.
type faultProxy struct {
	host     string // "127.0.0.1:port", to prefix repository names
	upstream string // the real registry's host
	pass     *httputil.ReverseProxy
	release  chan struct{} // closed at cleanup: ends every stall

	mu     sync.Mutex
	faults []*fault
	hits   map[string]int
	events chan string // "<fault name>" when a fault fires, "<name>:canceled" when a stalled client leaves
}

// fault is one planned misbehaviour.
type fault struct {
	name   string
	match  func(*http.Request) bool
	times  int // how many requests it hits; < 0 means all
	action func(p *faultProxy, w http.ResponseWriter, r *http.Request, name string)
}

func newFaultProxy(t testing.TB, upstream string) *faultProxy {
	t.Helper()
	target := &url.URL{Scheme: "http", Host: upstream}
	p := &faultProxy{
		upstream: upstream, pass: httputil.NewSingleHostReverseProxy(target),
		release: make(chan struct{}), hits: map[string]int{}, events: make(chan string, 64),
	}
	p.pass.ErrorLog = log.New(io.Discard, "", 0) // clients that hang up are expected here
	srv := httptest.NewServer(http.HandlerFunc(p.serve))
	t.Cleanup(func() { close(p.release); srv.Close() })
	p.host = strings.TrimPrefix(srv.URL, "http://")
	return p
}

// add plans a fault for the next times matching requests (all if < 0).
func (p *faultProxy) add(name string, times int, match func(*http.Request) bool, action func(*faultProxy, http.ResponseWriter, *http.Request, string)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.faults = append(p.faults, &fault{name: name, match: match, times: times, action: action})
}

// clear drops every planned fault.
func (p *faultProxy) clear() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.faults = nil
}

// hitCount is how often the fault called name fired.
func (p *faultProxy) hitCount(name string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.hits[name]
}

// await waits for the event ev (see faultProxy.events).
func (p *faultProxy) await(t testing.TB, ev string, timeout time.Duration) {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case got := <-p.events:
			if got == ev {
				return
			}
		case <-deadline:
			t.Fatalf("proxy event %q did not happen within %s", ev, timeout)
		}
	}
}

func (p *faultProxy) serve(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	var hit *fault
	for _, f := range p.faults {
		if f.times != 0 && f.match(r) {
			hit = f
			if f.times > 0 {
				f.times--
			}
			p.hits[f.name]++
			break
		}
	}
	p.mu.Unlock()
	if hit == nil {
		p.pass.ServeHTTP(w, r)
		return
	}
	p.emit(hit.name)
	hit.action(p, w, r, hit.name)
}

func (p *faultProxy) emit(ev string) {
	select {
	case p.events <- ev:
	default:
	}
}

// blobGET matches downloads of the blob with digest d.
func blobGET(d fmt.Stringer) func(*http.Request) bool {
	return func(r *http.Request) bool {
		return r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/blobs/"+d.String())
	}
}

// manifestReq matches manifest requests of the repository repo.
func manifestReq(repo string) func(*http.Request) bool {
	return func(r *http.Request) bool {
		return strings.HasPrefix(r.URL.Path, "/v2/"+repo+"/manifests/")
	}
}

// status answers with code, the headers given as "Key: value" pairs and a
// registry-style JSON error body.
func status(code int, errCode string, headers ...string) func(*faultProxy, http.ResponseWriter, *http.Request, string) {
	return func(_ *faultProxy, w http.ResponseWriter, r *http.Request, _ string) {
		for _, h := range headers {
			k, v, _ := strings.Cut(h, ": ")
			w.Header().Set(k, v)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		fmt.Fprintf(w, `{"errors":[{"code":%q,"message":"injected by the test proxy","detail":%q}]}`, errCode, r.URL.Path)
	}
}

// fetch gets what the real registry answers to r.
func (p *faultProxy) fetch(r *http.Request) (*http.Response, []byte, error) {
	req, err := http.NewRequestWithContext(r.Context(), r.Method, "http://"+p.upstream+r.URL.RequestURI(), nil)
	if err != nil {
		return nil, nil, err
	}
	req.Header = r.Header.Clone()
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp, body, err
}

// startBody sends the real response's headers and the first half of its
// body, flushed.
func (p *faultProxy) startBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	resp, body, err := p.fetch(r)
	if err != nil || resp.StatusCode != http.StatusOK || len(body) < 2 {
		http.Error(w, fmt.Sprintf("test proxy: upstream answered %v %v", resp, err), http.StatusBadGateway)
		return nil, false
	}
	for _, k := range []string{"Content-Type", "Docker-Content-Digest", "Etag"} {
		if v := resp.Header.Get(k); v != "" {
			w.Header().Set(k, v)
		}
	}
	w.Header().Set("Content-Length", fmt.Sprint(len(body)))
	w.WriteHeader(http.StatusOK)
	w.Write(body[:len(body)/2])
	http.NewResponseController(w).Flush()
	return body, true
}

// reset sends half the body, then resets the connection (RST).
func reset(p *faultProxy, w http.ResponseWriter, r *http.Request, _ string) {
	if _, ok := p.startBody(w, r); !ok {
		return
	}
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return // the server closes a response short of its length anyway
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		tc.SetLinger(0) // close with RST, not FIN
	}
	conn.Close()
}

// stall sends half the body, then nothing until the client gives up (an
// event "<name>:canceled") or the test ends.
func stall(p *faultProxy, w http.ResponseWriter, r *http.Request, name string) {
	if _, ok := p.startBody(w, r); !ok {
		return
	}
	select {
	case <-r.Context().Done():
		p.emit(name + ":canceled")
	case <-p.release:
	}
}

// corrupt serves the real body with one byte changed (same length).
func corrupt(p *faultProxy, w http.ResponseWriter, r *http.Request, _ string) {
	resp, body, err := p.fetch(r)
	if err != nil || resp.StatusCode != http.StatusOK || len(body) == 0 {
		http.Error(w, fmt.Sprintf("test proxy: upstream answered %v %v", resp, err), http.StatusBadGateway)
		return
	}
	body = bytes.Clone(body)
	body[len(body)/2] ^= 0xff
	for _, k := range []string{"Content-Type", "Docker-Content-Digest", "Etag"} {
		if v := resp.Header.Get(k); v != "" {
			w.Header().Set(k, v)
		}
	}
	w.Header().Set("Content-Length", fmt.Sprint(len(body)))
	w.Write(body)
}
