package serving

import (
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestListen(t *testing.T) {
	ln, err := Listen("x.listen", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	_, err = Listen("x.listen", ln.Addr().String())
	assert.ErrorContains(t, err, "x.listen "+ln.Addr().String()+": cannot listen:")
	assert.ErrorContains(t, err, "pick a free port for x.listen")
	// In the benchmarking range and on no interface: the bind fails,
	// nothing is sent.
	_, err = Listen("x.listen", "198.19.255.254:8443")
	assert.ErrorContains(t, err, "the address is not on any interface of this gateway")
}

func TestShutdown(t *testing.T) {
	ln, err := Listen("x.listen", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &http.Server{Handler: http.NotFoundHandler()}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	require.NoError(t, Shutdown(srv, done, time.Second))
	_, err = net.Dial("tcp", ln.Addr().String())
	assert.Error(t, err, "closed")
}
