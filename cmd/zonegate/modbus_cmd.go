package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/zonegate/zonegate/cmd/internal/cli"
	"github.com/zonegate/zonegate/gateway/events"
	"github.com/zonegate/zonegate/gateway/zone"
	"github.com/zonegate/zonegate/protocols/modbus"
	"github.com/zonegate/zonegate/protocols/modbustcp"
	"github.com/zonegate/zonegate/protocols/proxy"
)

// conduitPolicy loads the model and compiles the named conduit's policy.
func conduitPolicy(modelPath, conduit string) (*modbus.Policy, error) {
	m, err := zone.LoadFile(modelPath)
	if err != nil {
		return nil, err
	}
	c := m.Conduit(conduit)
	if c == nil {
		return nil, fmt.Errorf("model %s has no conduit %q", modelPath, conduit)
	}
	spec, ok := c.Rules.(*modbus.Spec)
	if !ok || spec == nil {
		return nil, fmt.Errorf("conduit %q has no `modbus:` block: add `inspect: modbus` and an allow list", conduit)
	}
	return modbus.Compile(*spec)
}

func modbusProxyCmd() *cobra.Command {
	var listen, upstream, modelPath, conduit string
	var responseTimeout time.Duration
	var debug bool
	cmd := &cobra.Command{
		Use:   "modbus-proxy --listen ADDR --upstream ADDR --model FILE --conduit NAME",
		Short: "run one Modbus proxy with a conduit's policy (explicit mode)",
		Args:  cli.Args(0, 0, ""),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if listen == "" || upstream == "" || modelPath == "" || conduit == "" {
				return cli.Usagef("zonegate modbus-proxy: --listen, --upstream, --model and --conduit are all required")
			}
			if responseTimeout <= 0 || responseTimeout > modbus.MaxResponseTimeout {
				return cli.Usagef("zonegate modbus-proxy: --response-timeout %v must be above 0 and at most %v, such as 500ms", responseTimeout, modbus.MaxResponseTimeout)
			}
			return runModbusProxy(listen, upstream, modelPath, conduit, responseTimeout, debug, cmd.ErrOrStderr())
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&listen, "listen", "", "address to accept Modbus/TCP clients on, e.g. 0.0.0.0:502")
	fs.StringVar(&upstream, "upstream", "", "address of the device (PLC), e.g. 192.168.20.10:502")
	fs.StringVar(&modelPath, "model", "", "zone model holding the conduit")
	fs.StringVar(&conduit, "conduit", "", "conduit whose modbus block is the policy")
	fs.DurationVar(&responseTimeout, "response-timeout", proxy.DefaultResponseTimeout, "how long the device has to answer a request before the client gets exception 0x0B, unless the conduit sets modbus.response_timeout")
	fs.BoolVar(&debug, "debug", false, "log debug messages")
	return cmd
}

// explicitProxy is what `zonegate modbus-proxy` runs.
type explicitProxy struct {
	listen, upstream, model, conduit string
	responseTimeout                  time.Duration
	// reload receives a value for every reload (SIGHUP); ready, when set,
	// gets the listening address.
	reload <-chan os.Signal
	ready  func(addr net.Addr)
}

func runModbusProxy(listen, upstream, modelPath, conduit string, responseTimeout time.Duration, debug bool, stderr io.Writer) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	log := newLogger(stderr, debug)
	defer log.Sync()
	return explicitProxy{listen: listen, upstream: upstream, model: modelPath, conduit: conduit,
		responseTimeout: responseTimeout, reload: hup}.run(ctx, log, stderr)
}

// run serves until ctx ends. The proxy's events (denials, framing errors,
// refused connections, device failures) go through the daemon's event
// pipeline with its log sink: the first event of each source, conduit
// and reason at once, then one line per key and interval with the count,
// at most 20 lines an interval and "N more suppressed" — never a line per
// event.
func (x explicitProxy) run(ctx context.Context, log *zap.Logger, stderr io.Writer) error {
	up, err := netip.ParseAddrPort(x.upstream)
	if err != nil {
		return fmt.Errorf("--upstream %q must be ADDRESS:PORT, e.g. 192.168.20.10:502", x.upstream)
	}
	load := func() (proxy.Policy, error) {
		p, err := conduitPolicy(x.model, x.conduit)
		var ds zone.Diagnostics
		if errors.As(err, &ds) {
			fmt.Fprintln(stderr, ds.Error())
		}
		return p, err
	}
	policy, err := load()
	if err != nil {
		return err
	}
	p, err := proxy.New(proxy.Config{
		Route: func(net.Conn) (proxy.Route, error) {
			return proxy.Route{Upstream: up, Conduit: x.conduit}, nil
		},
		Log:             log.Named("modbus"),
		ResponseTimeout: x.responseTimeout,
	}, modbustcp.Codec{})
	if err != nil {
		return err
	}
	if err := p.Install(map[string]proxy.Policy{x.conduit: policy}); err != nil {
		p.Close()
		return err
	}
	ln, err := net.Listen("tcp", x.listen)
	if err != nil {
		p.Close()
		return fmt.Errorf("listen on %s: %w", x.listen, err)
	}
	pipeline := events.New(events.Config{Sinks: []events.Sink{&events.LogSink{Log: log.Named("events")}}})
	pipeline.Follow(p.Events())
	pctx, stopPipeline := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() {
		defer close(ran)
		pipeline.Run(pctx) // flushes once more when stopped, with the proxy's last events
	}()
	defer func() {
		<-p.Events().Done() // the proxy has stopped
		stopPipeline()
		<-ran
	}()
	go func() {
		for range x.reload {
			pol, err := load()
			if err == nil {
				err = p.Install(map[string]proxy.Policy{x.conduit: pol})
			}
			if err != nil {
				log.Error("reload failed; the running policy is unchanged", zap.Error(err))
				continue
			}
			log.Info("policy reloaded", zap.String("conduit", x.conduit))
		}
	}()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = p.Shutdown(sctx)
	}()
	log.Info("Modbus proxy listening", zap.String("listen", ln.Addr().String()), zap.String("upstream", up.String()), zap.String("conduit", x.conduit))
	if x.ready != nil {
		x.ready(ln.Addr())
	}
	if err := p.Serve(ln); err != nil && !errors.Is(err, proxy.ErrClosed) {
		p.Close()
		return err
	}
	return nil
}
