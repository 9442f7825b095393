package vmconfig

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestLoad(t *testing.T) {
	p := filepath.Join(t.TempDir(), "vm.json")
	json := `{"hostname":"h","network":{"address":"10.0.2.15/24","gateway":"10.0.2.2","dns":["10.0.2.3"]},
		"process":{"args":["sh","-c","x"],"env":["A=1"],"working_dir":"/w","user":"app:app","tty":true,
		"pty":true,"rows":30,"cols":90,"stdin":true},"init":"image"}`
	if err := os.WriteFile(p, []byte(json), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	want := Config{Hostname: "h", Init: InitImage,
		Network: &Network{Address: "10.0.2.15/24", Gateway: "10.0.2.2", DNS: []string{"10.0.2.3"}},
		Process: Process{Args: []string{"sh", "-c", "x"}, Env: []string{"A=1"}, WorkingDir: "/w", User: "app:app", TTY: true,
			PTY: true, Rows: 30, Cols: 90, Stdin: true}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Load = %+v, want %+v", got, want)
	}
	if err := os.WriteFile(p, []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(p); err == nil {
		t.Error("malformed settings accepted")
	}
}
