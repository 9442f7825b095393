// Package daemon is banger's long-running server: it owns the state
// directory and the database, serves the API on a Unix socket, and runs the
// long operations (register, pull, boot) with staging, publish and rollback.
//
// A feature plugs in as its own files: a xxxRoutes(mux) method registering
// handlers (see routes.go), handlers built with jsonHandler/streamHandler,
// artifacts created through Daemon.publish, and names serialized with
// Daemon.lockName.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/banger-dev/banger/internal/api"
	"github.com/banger-dev/banger/internal/imagepull"
	"github.com/banger-dev/banger/internal/paths"
	"github.com/banger-dev/banger/internal/store"
)

// Config configures Run. Its zero value serves the layout of the process
// environment with logs in the state directory only.
type Config struct {
	// Layout is where state, cache and socket live; zero means paths.FromEnv(os.Getenv).
	Layout paths.Layout
	// Version is reported by the status endpoint.
	Version string
	// Stderr, if set, receives a copy of the log (skipped when it is the log file itself).
	Stderr io.Writer
	// Debug logs every request.
	Debug bool
	// Hooks are test callbacks; all optional.
	Hooks Hooks
}

// Hooks let tests observe or stall operations at fixed points.
type Hooks struct {
	// Progress sees every progress event of every operation before it is
	// sent; the operation waits while it runs.
	Progress func(ctx context.Context, ev api.Event)
}

// Daemon is the running server's state, shared by all handlers.
type Daemon struct {
	cfg     Config
	layout  paths.Layout
	log     *slog.Logger
	started time.Time
	locks   nameLocks

	// store and blobs are set before ready is closed; handlers run only
	// after ready.
	store    *store.Store
	blobs    *imagepull.Cache
	cacheMu  sync.RWMutex // pulls hold it shared, a cache prune exclusively
	ready    chan struct{}
	failed   chan struct{} // closed with startErr set when startup fails
	startErr error

	stopOnce sync.Once
	stop     chan struct{} // closed by POST /v1/shutdown
}

// Run serves until ctx is done or a shutdown is requested, then stops
// gracefully: running operations are canceled (and roll back) and the
// socket is removed. It fails early if another daemon owns the state.
func Run(ctx context.Context, cfg Config) error {
	d, err := newDaemon(cfg)
	if err != nil {
		return err
	}
	if err := d.layout.EnsureState(); err != nil {
		return err
	}
	logFile, err := d.openLog()
	if err != nil {
		return err
	}
	defer logFile.Close()
	unlock, err := lockState(d.layout.LockPath())
	if err != nil {
		return err
	}
	defer unlock()
	ln, err := listen(d.layout, d.log)
	if err != nil {
		return err
	}
	return d.serve(ctx, ln)
}

func newDaemon(cfg Config) (*Daemon, error) {
	layout := cfg.Layout
	if layout == (paths.Layout{}) {
		var err error
		if layout, err = paths.FromEnv(os.Getenv); err != nil {
			return nil, err
		}
	}
	return &Daemon{
		cfg: cfg, layout: layout, started: time.Now(), log: slog.New(slog.DiscardHandler),
		ready: make(chan struct{}), failed: make(chan struct{}), stop: make(chan struct{}),
	}, nil
}

// serve runs the HTTP server on ln while the backend starts, then waits for
// the end.
func (d *Daemon) serve(ctx context.Context, ln net.Listener) error {
	opCtx, cancelOps := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelOps()
	srv := &http.Server{
		Handler:           d.routes(),
		BaseContext:       func(net.Listener) context.Context { return opCtx },
		ReadHeaderTimeout: 10 * time.Second,
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	d.log.Info("daemon listening", "socket", d.layout.SocketPath(), "pid", os.Getpid(), "version", d.cfg.Version)

	if err := d.start(ctx); err != nil {
		d.startErr = err
		close(d.failed)
		d.shutdown(srv, cancelOps)
		return err
	}
	defer d.store.Close()
	close(d.ready)
	d.log.Info("daemon ready")

	var err error
	select {
	case <-ctx.Done():
		d.log.Info("stopping: signal received")
	case <-d.stop:
		d.log.Info("stopping: shutdown requested")
	case err = <-serveErr:
		d.log.Error("serving stopped", "err", err)
	}
	d.shutdown(srv, cancelOps)
	return err
}

// start opens the store and cleans up after a previous run.
func (d *Daemon) start(ctx context.Context) error {
	st, err := store.Open(ctx, d.layout.DBPath())
	if err != nil {
		return err
	}
	d.store = st
	if d.blobs, err = imagepull.NewCache(d.layout.OCIDir()); err != nil {
		st.Close()
		return err
	}
	if err := d.recover(ctx); err != nil {
		st.Close()
		return fmt.Errorf("recovering state: %w", err)
	}
	return nil
}

// shutdown cancels running operations, then waits (bounded) for their
// handlers to finish rolling back.
func (d *Daemon) shutdown(srv *http.Server, cancelOps context.CancelFunc) {
	cancelOps()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		d.log.Warn("stopping server", "err", err)
		srv.Close()
	}
	d.log.Info("daemon stopped")
}

// requestStop makes Run return.
func (d *Daemon) requestStop() { d.stopOnce.Do(func() { close(d.stop) }) }
