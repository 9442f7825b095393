package kernelcat

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDefaultCatalog(t *testing.T) {
	c, err := DefaultCatalog()
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Kernels) == 0 {
		t.Fatal("built-in catalog is empty")
	}
	for _, e := range c.Kernels {
		for _, banned := range []string{"deb.debian.org", "security.debian.org"} {
			if strings.Contains(e.Kernel.URL, banned) {
				t.Errorf("%s points at %s", e.Name, banned)
			}
		}
		if !strings.HasPrefix(e.Kernel.URL, "https://") {
			t.Errorf("%s: built-in URL %s is not https", e.Name, e.Kernel.URL)
		}
	}
	e, err := c.Lookup("firecracker-6.1", "amd64")
	if err != nil || e.Version != "6.1.155" {
		t.Fatalf("Lookup(firecracker-6.1, amd64) = %+v, %v", e, err)
	}
	if _, err := c.Lookup("firecracker-6.1", "riscv64"); !errors.Is(err, ErrUnknownKernel) {
		t.Fatalf("Lookup for a missing arch: %v, want ErrUnknownKernel", err)
	}
}

const goodCatalog = `{"schema": 1, "kernels": [{
  "name": "test-6.1", "version": "6.1.1", "arch": "amd64",
  "kernel": {"url": "https://example.org/vmlinuz", "size": 10, "sha256": "` + sixtyFourA + `"},
  "bundle": {"url": "https://example.org/m.tar.zst", "size": 10, "sha256": "` + sixtyFourA + `", "modules": "./lib/modules/6.1.1/"}
}]}`

const sixtyFourA = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

func TestParseCatalogAcceptsAndCleans(t *testing.T) {
	c, err := ParseCatalog([]byte(goodCatalog))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Kernels[0].Bundle.Modules; got != "lib/modules/6.1.1" {
		t.Fatalf("bundle modules path = %q, want it cleaned to lib/modules/6.1.1", got)
	}
}

func TestParseCatalogRejects(t *testing.T) {
	for name, doc := range map[string]string{
		"unknown top field":    strings.Replace(goodCatalog, `"schema": 1,`, `"schema": 1, "extra": true,`, 1),
		"unknown entry field":  strings.Replace(goodCatalog, `"arch": "amd64",`, `"arch": "amd64", "initramfs": "x",`, 1),
		"unknown nested field": strings.Replace(goodCatalog, `"size": 10,`, `"size": 10, "md5": "x",`, 1),
		"wrong schema":         strings.Replace(goodCatalog, `"schema": 1`, `"schema": 2`, 1),
		"short sha":            strings.Replace(goodCatalog, sixtyFourA, "abc", 1),
		"uppercase sha":        strings.Replace(goodCatalog, sixtyFourA, strings.ToUpper(sixtyFourA), 1),
		"http remote":          strings.Replace(goodCatalog, "https://example.org/vmlinuz", "http://example.org/vmlinuz", 1),
		"ftp":                  strings.Replace(goodCatalog, "https://example.org/vmlinuz", "ftp://example.org/vmlinuz", 1),
		"credentials":          strings.Replace(goodCatalog, "https://example.org/vmlinuz", "https://u:p@example.org/vmlinuz", 1),
		"zero size":            strings.Replace(goodCatalog, `"size": 10,`, `"size": 0,`, 1),
		"bad arch":             strings.Replace(goodCatalog, `"amd64"`, `"x86_64"`, 1),
		"bad name":             strings.Replace(goodCatalog, `"test-6.1"`, `"Test 6.1"`, 1),
		"dotdot bundle path":   strings.Replace(goodCatalog, `./lib/modules/6.1.1/`, `../lib/modules`, 1),
		"absolute bundle path": strings.Replace(goodCatalog, `./lib/modules/6.1.1/`, `/lib/modules/6.1.1`, 1),
		"kernel twice":         strings.Replace(goodCatalog, `"modules": "./lib`, `"kernel": "boot/vmlinuz", "modules": "./lib`, 1),
		"no kernel":            strings.Replace(goodCatalog, `"kernel": {"url": "https://example.org/vmlinuz", "size": 10, "sha256": "`+sixtyFourA+`"},`, ``, 1),
		"trailing data":        goodCatalog + `{}`,
		"duplicate":            duplicateEntry(goodCatalog),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := ParseCatalog([]byte(doc))
			if !errors.Is(err, ErrInvalidCatalog) {
				t.Fatalf("ParseCatalog: %v, want ErrInvalidCatalog", err)
			}
			t.Log(err)
		})
	}
}

// duplicateEntry lists the document's only entry twice.
func duplicateEntry(doc string) string {
	start, end := strings.Index(doc, "[")+1, strings.LastIndex(doc, "]")
	return doc[:end] + ", " + doc[start:end] + doc[end:]
}

func TestParseCatalogAllowsLoopbackHTTPAndFiles(t *testing.T) {
	for _, u := range []string{"http://127.0.0.1:8080/k", "http://localhost/k", "file:///srv/k"} {
		doc := strings.Replace(goodCatalog, "https://example.org/vmlinuz", u, 1)
		if _, err := ParseCatalog([]byte(doc)); err != nil {
			t.Errorf("%s: %v", u, err)
		}
	}
}

func TestLoadCatalog(t *testing.T) {
	attempts := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/catalog.json":
			attempts++
			if attempts == 1 {
				http.Error(w, "try later", http.StatusServiceUnavailable)
				return
			}
			w.Write([]byte(goodCatalog))
		case "/bad.json":
			w.Write([]byte(`{"schema": 1, "kernels": [], "mirror": "x"}`))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	ctx := context.Background()
	opts := Options{Backoff: 1}

	c, err := LoadCatalog(ctx, srv.URL+"/catalog.json", opts)
	if err != nil || len(c.Kernels) != 1 || attempts != 2 {
		t.Fatalf("LoadCatalog(url) = %v, %v after %d attempts; want 1 kernel after a retried 503", c, err, attempts)
	}
	if _, err := LoadCatalog(ctx, srv.URL+"/bad.json", opts); !errors.Is(err, ErrInvalidCatalog) {
		t.Fatalf("catalog with unknown field: %v, want ErrInvalidCatalog", err)
	}
	if _, err := LoadCatalog(ctx, srv.URL+"/missing.json", opts); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing catalog: %v, want ErrNotFound", err)
	}
	file := filepath.Join(t.TempDir(), "catalog.json")
	os.WriteFile(file, []byte(goodCatalog), 0o644)
	for _, src := range []string{file, "file://" + file} {
		if c, err := LoadCatalog(ctx, src, opts); err != nil || c.Kernels[0].Name != "test-6.1" {
			t.Fatalf("LoadCatalog(%s) = %v, %v", src, c, err)
		}
	}
	if c, err := LoadCatalog(ctx, "", opts); err != nil || len(c.Kernels) == 0 {
		t.Fatalf(`LoadCatalog("") = %v, %v; want the built-in catalog`, c, err)
	}
}
