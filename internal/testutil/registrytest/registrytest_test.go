package registrytest

import (
	"net/http"
	"os"
	"strings"
	"testing"
)

func TestStartPlainAndTLS(t *testing.T) {
	plain := Start(t, Options{})
	resp, err := http.Get("http://" + plain.Host + "/v2/")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("plain registry: %v %v", resp, err)
	}
	resp.Body.Close()

	secure := Start(t, Options{TLS: true, User: "u", Password: "p"})
	c := &http.Client{Transport: secure.Transport(t)}
	resp, err = c.Get("https://" + secure.Host + "/v2/")
	if err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("TLS registry without credentials: %v %v", resp, err)
	}
	resp.Body.Close()
	req, _ := http.NewRequest(http.MethodGet, "https://"+secure.Host+"/v2/", nil)
	req.SetBasicAuth("u", "p")
	if resp, err = c.Do(req); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("TLS registry with credentials: %v %v", resp, err)
	}
	resp.Body.Close()

	dir := secure.WriteDockerConfig(t, t.TempDir()+"/docker", "u", "p")
	data, err := os.ReadFile(dir + "/config.json")
	if err != nil || !strings.Contains(string(data), secure.Host) {
		t.Fatalf("config.json: %s %v", data, err)
	}
	secure.Stop()
	if _, err := c.Get("https://" + secure.Host + "/v2/"); err == nil {
		t.Fatal("registry still serving after Stop")
	}
}
