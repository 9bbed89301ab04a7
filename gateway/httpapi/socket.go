package httpapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"go.uber.org/zap"
	"golang.org/x/sys/unix"
)

// Config says where and what the API serves.
type Config struct {
	// Socket is the path of the Unix socket.
	Socket string
	// GID is the group that may use the socket besides root; -1 keeps the
	// daemon's group.
	GID      int
	Backend  Backend
	Accounts Accounts
	Log      *zap.Logger
}

type ctxKey int

const peerKey ctxKey = 1

// Listen creates the Unix socket at path with mode 0660, owned by root and
// group gid (-1: unchanged). It refuses to take over a socket another
// process still answers on.
func Listen(path string, gid int) (net.Listener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("create the API socket's directory: %w", err)
	}
	if c, err := net.Dial("unix", path); err == nil {
		c.Close()
		return nil, fmt.Errorf("another zonegate answers on %s: stop it or set api.socket", path)
	}
	_ = os.Remove(path)
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o660); err != nil {
		ln.Close()
		return nil, fmt.Errorf("make the API socket %s mode 0660: %w", path, err)
	}
	if gid >= 0 {
		if err := os.Chown(path, 0, gid); err != nil {
			ln.Close()
			return nil, fmt.Errorf("give the API socket %s to group %d (api.group): %w", path, gid, err)
		}
	}
	return ln, nil
}

// Start listens on cfg.Socket and serves the API until the returned
// Closer is closed.
func Start(cfg Config) (io.Closer, error) {
	log := cfg.Log
	if log == nil {
		log = zap.NewNop()
	}
	ln, err := Listen(cfg.Socket, cfg.GID)
	if err != nil {
		return nil, err
	}
	srv := NewServer(Handler(cfg.Backend, cfg.Accounts))
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("management API stopped", zap.Error(err))
		}
	}()
	log.Info("management API listening", zap.String("socket", cfg.Socket))
	return srv, nil
}

// NewServer wraps h in an http.Server with the API's timeouts and limits
// that records each connection's peer credentials for Peer.
func NewServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    16 << 10,
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			return context.WithValue(ctx, peerKey, peerOf(c))
		},
	}
}

// PeerCred is the socket credentials of the client of a request: the
// user and process at the other end of the Unix socket. UID and PID are
// -1 when they are unknown (not a Unix socket).
type PeerCred struct {
	UID int
	PID int
}

// String names the peer as audit records show it ("local uid=U pid=P").
func (p PeerCred) String() string {
	if p.UID < 0 {
		return "local"
	}
	return fmt.Sprintf("local uid=%d pid=%d", p.UID, p.PID)
}

var unknownPeer = PeerCred{UID: -1, PID: -1}

// peerOf reads the socket credentials of the process at the other end.
func peerOf(c net.Conn) PeerCred {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return unknownPeer
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return unknownPeer
	}
	var cred *unix.Ucred
	cerr := raw.Control(func(fd uintptr) { cred, err = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED) })
	if cerr != nil || err != nil || cred == nil {
		return unknownPeer
	}
	return PeerCred{UID: int(cred.Uid), PID: int(cred.Pid)}
}

// PeerOf is the socket credentials of the client of a request.
func PeerOf(r *http.Request) PeerCred {
	if p, ok := r.Context().Value(peerKey).(PeerCred); ok {
		return p
	}
	return unknownPeer
}

// Peer names the client of a request ("local uid=U pid=P"), as audit
// records show it.
func Peer(r *http.Request) string { return PeerOf(r).String() }
