// Package serving holds the steps the daemon's TCP servers (the metrics,
// the web console) take alike: bind the address a setting names, saying
// what to change in which setting when that fails, and stop with a grace
// period for the requests in flight.
package serving

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"syscall"
	"time"
)

// Listen binds addr, the value of the setting named setting (such as
// "metrics.listen"). Its error names the setting, the address, and what
// to change.
func Listen(setting, addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err == nil {
		return ln, nil
	}
	hint := fmt.Sprintf("set %s to an address of this gateway and a free port, or remove it to turn it off", setting)
	switch {
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		hint = fmt.Sprintf("the address is not on any interface of this gateway: use the address of its management interface (ip -br addr), or remove %s", setting)
	case errors.Is(err, syscall.EADDRINUSE):
		hint = fmt.Sprintf("another program (or another zonegate) uses the port: pick a free port for %s (ss -ltnp shows who listens)", setting)
	case errors.Is(err, syscall.EACCES):
		hint = fmt.Sprintf("this user may not bind the port: use a port above 1023 for %s", setting)
	}
	return nil, fmt.Errorf("%s %s: cannot listen: %w (%s)", setting, addr, err, hint)
}

// Shutdown stops srv: requests in flight get grace to finish, then every
// connection is closed. done is closed when srv's Serve has returned.
func Shutdown(srv *http.Server, done <-chan struct{}, grace time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	err := srv.Shutdown(ctx)
	if err != nil {
		err = srv.Close()
	}
	<-done
	return err
}
