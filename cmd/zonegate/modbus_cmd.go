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
	"github.com/zonegate/zonegate/gateway/zone"
	"github.com/zonegate/zonegate/protocols/modbus"
	"github.com/zonegate/zonegate/protocols/modbusproxy"
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
	fs.DurationVar(&responseTimeout, "response-timeout", modbusproxy.DefaultResponseTimeout, "how long the device has to answer a request before the client gets exception 0x0B, unless the conduit sets modbus.response_timeout")
	fs.BoolVar(&debug, "debug", false, "log debug messages")
	return cmd
}

func runModbusProxy(listen, upstream, modelPath, conduit string, responseTimeout time.Duration, debug bool, stderr io.Writer) error {
	up, err := netip.ParseAddrPort(upstream)
	if err != nil {
		return fmt.Errorf("--upstream %q must be ADDRESS:PORT, e.g. 192.168.20.10:502", upstream)
	}
	log := newLogger(stderr, debug)
	defer log.Sync()
	policy, err := conduitPolicy(modelPath, conduit)
	if err != nil {
		var ds zone.Diagnostics
		if errors.As(err, &ds) {
			fmt.Fprintln(stderr, ds.Error())
		}
		return err
	}
	live := modbus.NewLivePolicy(policy)
	proxy, err := modbusproxy.New(modbusproxy.Config{
		Route: func(net.Conn) (modbusproxy.Route, error) {
			return modbusproxy.Route{Upstream: up, Conduit: conduit, Policy: live}, nil
		},
		Sink:            modbusproxy.ZapSink{Log: log.Named("modbus")},
		Log:             log.Named("modbus"),
		ResponseTimeout: responseTimeout,
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", listen, err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		for range hup {
			p, err := conduitPolicy(modelPath, conduit)
			if err != nil {
				log.Error("reload failed; the running policy is unchanged", zap.Error(err))
				continue
			}
			live.Store(p)
			log.Info("policy reloaded", zap.String("conduit", conduit))
		}
	}()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = proxy.Shutdown(sctx)
	}()
	log.Info("Modbus proxy listening", zap.String("listen", ln.Addr().String()), zap.String("upstream", up.String()), zap.String("conduit", conduit))
	if err := proxy.Serve(ln); err != nil && !errors.Is(err, modbusproxy.ErrProxyClosed) {
		return err
	}
	return nil
}
