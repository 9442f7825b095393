package daemon

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"syscall"
	"time"

	"github.com/banger-dev/banger/internal/errdefs"
	"github.com/banger-dev/banger/internal/paths"
	"golang.org/x/sys/unix"
)

// listen opens the daemon socket: its directory is 0700 and owned by us, a
// socket file left by a dead daemon is removed only after a dial to it
// fails, and the socket is chmod 0600. Every accepted connection has its
// peer credentials checked.
func listen(layout paths.Layout, log *slog.Logger) (net.Listener, error) {
	if err := layout.EnsureRuntimeDir(); err != nil {
		return nil, err
	}
	path := layout.SocketPath()
	ln, err := net.Listen("unix", path)
	if errors.Is(err, syscall.EADDRINUSE) {
		if conn, derr := net.DialTimeout("unix", path, time.Second); derr == nil {
			conn.Close()
			return nil, errdefs.Newf(errdefs.ErrConflict, "another banger daemon is answering on %s", path)
		}
		log.Info("removing stale socket", "socket", path)
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("removing stale socket: %w", err)
		}
		ln, err = net.Listen("unix", path)
	}
	if err != nil {
		return nil, fmt.Errorf("listening on %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("restricting socket: %w", err)
	}
	return &peerListener{Listener: ln, uid: uint32(os.Getuid()), log: log}, nil
}

// peerListener drops connections from users other than the daemon's own
// and root (SO_PEERCRED), before any byte is read from them.
type peerListener struct {
	net.Listener
	uid uint32
	log *slog.Logger
}

// Accept returns the next connection from an allowed peer.
func (l *peerListener) Accept() (net.Conn, error) {
	for {
		conn, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		cred, err := peerCred(conn)
		if err == nil && (cred.Uid == l.uid || cred.Uid == 0) {
			return conn, nil
		}
		if err == nil {
			err = fmt.Errorf("uid %d (pid %d) is not allowed", cred.Uid, cred.Pid)
		}
		l.log.Warn("rejecting connection", "err", err)
		conn.Close()
	}
}

func peerCred(conn net.Conn) (*unix.Ucred, error) {
	uc, ok := conn.(*net.UnixConn)
	if !ok {
		return nil, errors.New("checking peer credentials: not a unix connection")
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("checking peer credentials: %w", err)
	}
	var cred *unix.Ucred
	var credErr error
	err = raw.Control(func(fd uintptr) {
		cred, credErr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	})
	if err == nil {
		err = credErr
	}
	if err != nil {
		return nil, fmt.Errorf("checking peer credentials: %w", err)
	}
	return cred, nil
}
