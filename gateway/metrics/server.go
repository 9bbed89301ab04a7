package metrics

import (
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"
	"golang.org/x/net/netutil"

	"github.com/zonegate/zonegate/gateway/internal/serving"
)

// Path is the only path the server answers.
const Path = "/metrics"

// DefaultPort is the port of the examples (configs/zonegate.yaml,
// configs/prometheus.yml).
const DefaultPort = 9469

// Limits of the server: a slow or hostile scraper holds at most one of
// MaxConns connections, for at most the timeouts, with at most
// MaxHeaderBytes of request headers; at most MaxScrapes scrapes run at
// once (more are answered 503).
const (
	DefaultReadHeaderTimeout = 5 * time.Second
	DefaultWriteTimeout      = 10 * time.Second
	DefaultIdleTimeout       = 30 * time.Second
	MaxHeaderBytes           = 4 << 10
	MaxConns                 = 16
	MaxScrapes               = 2
)

// Config configures a Server. Zero timeouts take the defaults above.
type Config struct {
	Source Source
	Build  Build
	// Log receives the scrape errors; nil: none.
	Log *zap.Logger

	ReadHeaderTimeout time.Duration // request line and headers
	WriteTimeout      time.Duration // from the end of the headers to the end of the answer
	IdleTimeout       time.Duration // between requests of a kept-alive connection
}

func (c *Config) setDefaults() {
	if c.ReadHeaderTimeout <= 0 {
		c.ReadHeaderTimeout = DefaultReadHeaderTimeout
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = DefaultWriteTimeout
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = DefaultIdleTimeout
	}
	if c.Log == nil {
		c.Log = zap.NewNop()
	}
}

// NewRegistry returns a registry with zonegate's collector, the Go runtime
// collector and the process collector.
func NewRegistry(src Source, build Build) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		NewCollector(src, build),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return reg
}

// Handler answers GET and HEAD on Path with the metrics of g in the
// Prometheus text format (or what the scraper negotiates) and 404 on
// every other path.
func Handler(g prometheus.Gatherer, log *zap.Logger) http.Handler {
	if log == nil {
		log = zap.NewNop()
	}
	h := promhttp.HandlerFor(g, promhttp.HandlerOpts{
		ErrorLog:            zapErrorLog{log},
		ErrorHandling:       promhttp.ContinueOnError,
		MaxRequestsInFlight: MaxScrapes,
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != Path {
			http.NotFound(w, r)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "only GET and HEAD", http.StatusMethodNotAllowed)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// zapErrorLog adapts a zap logger to promhttp.Logger.
type zapErrorLog struct{ log *zap.Logger }

func (l zapErrorLog) Println(v ...any) {
	l.log.Warn("metrics scrape incomplete", zap.String("error", fmt.Sprint(v...)))
}

// CheckListen checks the syntax of a metrics.listen address: an IP
// address (or nothing, for every address) and a port. Whether the address
// can be bound shows only at start (Listen).
func CheckListen(addr string) error { return checkListen(addr, false) }

// checkListen is CheckListen; with anyPort, port 0 (any free port, for
// tests) passes.
func checkListen(addr string, anyPort bool) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("metrics.listen %q is not ADDRESS:PORT: write an address of this gateway's management interface and a port, e.g. 198.18.60.1:%d or [fd00:60::1]:%d", addr, DefaultPort, DefaultPort)
	}
	if host != "" {
		if _, err := netip.ParseAddr(host); err != nil {
			return fmt.Errorf("metrics.listen %q: %q is not an IP address: write the address of this gateway's management interface, not a host name", addr, host)
		}
	}
	if p, err := strconv.ParseUint(port, 10, 16); err != nil || (p == 0 && !anyPort) {
		return fmt.Errorf("metrics.listen %q: the port must be 1-65535, e.g. %d", addr, DefaultPort)
	}
	return nil
}

// Listen binds addr for the metrics server. Its errors say what to change
// in metrics.listen. Port 0 picks a free port (tests).
func Listen(addr string) (net.Listener, error) {
	if err := checkListen(addr, true); err != nil {
		return nil, err
	}
	return serving.Listen("metrics.listen", addr)
}

// Server is a running metrics endpoint.
type Server struct {
	srv  *http.Server
	ln   net.Listener
	done chan struct{}
}

// Serve serves the metrics of cfg.Source on ln until Close. The server
// closes a connection whose request headers do not arrive within
// ReadHeaderTimeout, whose answer is not taken within WriteTimeout, or
// that idles IdleTimeout; it holds at most MaxConns connections.
func Serve(ln net.Listener, cfg Config) *Server {
	cfg.setDefaults()
	s := &Server{ln: ln, done: make(chan struct{})}
	s.srv = &http.Server{
		Handler:           Handler(NewRegistry(cfg.Source, cfg.Build), cfg.Log),
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		// A scrape has no body: reading the request ends with its headers.
		ReadTimeout:    cfg.ReadHeaderTimeout,
		WriteTimeout:   cfg.WriteTimeout,
		IdleTimeout:    cfg.IdleTimeout,
		MaxHeaderBytes: MaxHeaderBytes,
		ErrorLog:       mustStdLog(cfg.Log),
	}
	limited := netutil.LimitListener(ln, MaxConns)
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(limited); err != nil && !errors.Is(err, http.ErrServerClosed) {
			cfg.Log.Error("metrics server stopped: /metrics is unavailable until zonegate restarts", zap.Error(err))
		}
	}()
	return s
}

// Addr is the address the server listens on.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Close stops the server: it gives scrapes in progress one second, then
// closes every connection.
func (s *Server) Close() error {
	return serving.Shutdown(s.srv, s.done, time.Second)
}

// mustStdLog is the server's error log: connection errors at warn level.
func mustStdLog(l *zap.Logger) *log.Logger {
	std, err := zap.NewStdLogAt(l.Named("metrics"), zap.WarnLevel)
	if err != nil {
		panic("metrics: " + err.Error()) // only for a level zap does not know
	}
	return std
}
