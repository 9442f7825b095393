package daemon

import (
	"net/http"
	"os"

	"github.com/banger-dev/banger/internal/api"
	"github.com/banger-dev/banger/internal/errdefs"
)

// routes builds the API handler. A feature adds its own xxxRoutes(mux)
// method in its own file and one line here.
func (d *Daemon) routes() http.Handler {
	mux := http.NewServeMux()
	d.statusRoutes(mux)
	d.imageRoutes(mux)
	d.imageRegisterRoutes(mux)
	d.imagePullRoutes(mux)
	d.kernelRoutes(mux)
	d.vmRoutes(mux)
	d.imageBuildRoutes(mux)
	mux.Handle("/", d.jsonHandler(func(r *http.Request) (any, error) {
		return nil, errdefs.Newf(errdefs.ErrNotFound, "no API endpoint %s %s", r.Method, r.URL.Path)
	}))
	return mux
}

func (d *Daemon) statusRoutes(mux *http.ServeMux) {
	mux.Handle("GET "+api.PathPing, d.jsonHandler(d.handleStatus))
	mux.Handle("GET "+api.PathStatus, d.jsonHandler(d.handleStatus))
	mux.Handle("POST "+api.PathShutdown, d.jsonHandler(func(*http.Request) (any, error) {
		d.requestStop()
		return nil, nil
	}))
}

func (d *Daemon) handleStatus(*http.Request) (any, error) {
	return api.Status{
		PID: os.Getpid(), Version: d.cfg.Version, StateDir: d.layout.StateDir,
		Socket: d.layout.SocketPath(), Started: d.started,
	}, nil
}
