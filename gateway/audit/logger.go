package audit

// Logger receives the log's operational messages (write failures, storage
// warnings, syslog outages) as a message and alternating keys and values.
// *zap.SugaredLogger implements it; the package itself depends on no
// logging library.
type Logger interface {
	Infow(msg string, keysAndValues ...any)
	Warnw(msg string, keysAndValues ...any)
	Errorw(msg string, keysAndValues ...any)
}

// nopLogger drops every message (no Logger given).
type nopLogger struct{}

func (nopLogger) Infow(string, ...any)  {}
func (nopLogger) Warnw(string, ...any)  {}
func (nopLogger) Errorw(string, ...any) {}

// collectorLogger names the syslog collector in every message of an
// Exporter.
type collectorLogger struct {
	Logger
	collector string
}

func (l collectorLogger) Infow(msg string, kv ...any) {
	l.Logger.Infow(msg, append([]any{"collector", l.collector}, kv...)...)
}

func (l collectorLogger) Warnw(msg string, kv ...any) {
	l.Logger.Warnw(msg, append([]any{"collector", l.collector}, kv...)...)
}

func (l collectorLogger) Errorw(msg string, kv ...any) {
	l.Logger.Errorw(msg, append([]any{"collector", l.collector}, kv...)...)
}
