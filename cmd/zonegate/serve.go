package main

import (
	"context"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/spf13/cobra"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/zonegate/zonegate/cmd/internal/cli"
	"github.com/zonegate/zonegate/gateway"
	"github.com/zonegate/zonegate/gateway/settings"
)

func newLogger(stderr io.Writer, debug bool) *zap.Logger {
	level := zapcore.InfoLevel
	if debug {
		level = zapcore.DebugLevel
	}
	enc := zap.NewProductionEncoderConfig()
	enc.TimeKey = "time"
	enc.EncodeTime = zapcore.RFC3339NanoTimeEncoder
	core := zapcore.NewCore(zapcore.NewJSONEncoder(enc), zapcore.AddSync(stderr), level)
	return zap.New(core)
}

// serveFlags are the flags of serve.
type serveFlags struct {
	config, model, stateDir, socket string
	consoleListen                   string
	proxyPort, logGroup             uint16
	debug                           bool
}

func serveCmd() *cobra.Command {
	var f serveFlags
	cmd := &cobra.Command{
		Use:   "serve [--config FILE] [--model FILE] [--state-dir DIR] [--socket PATH] [--modbus-proxy-port N] [--log-group N] [--console-listen ADDR:PORT]",
		Short: "run the daemon: fail close, apply the model, Modbus proxy, management API",
		Args:  cli.Args(0, 0, ""),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if f.config == "" && f.model == "" {
				return cli.Usagef("zonegate serve: give the daemon settings (--config FILE) or a zone model (--model FILE)")
			}
			return runServe(f, cmd.ErrOrStderr())
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&f.config, "config", "", "daemon settings file (see configs/zonegate.yaml)")
	fs.StringVar(&f.model, "model", "", "zone model file (overrides the settings' model)")
	fs.StringVar(&f.stateDir, "state-dir", "", "state directory: model versions, accounts, audit log (overrides the settings)")
	fs.StringVar(&f.socket, "socket", "", "management API socket (overrides the settings)")
	fs.Uint16Var(&f.proxyPort, "modbus-proxy-port", 0, "local port of the Modbus proxy (overrides the settings)")
	fs.Uint16Var(&f.logGroup, "log-group", 0, "NFLOG group for dropped packets (overrides the settings)")
	fs.StringVar(&f.consoleListen, "console-listen", "", "`ADDRESS:PORT` of the web console on a management zone's interface (overrides the settings' console.listen)")
	fs.BoolVar(&f.debug, "debug", false, "log debug messages")
	return cmd
}

func runServe(f serveFlags, stderr io.Writer) error {
	set := settings.Default()
	if f.config != "" {
		var err error
		if set, err = settings.Load(f.config); err != nil {
			return err
		}
	}
	if f.model != "" {
		set.Model = f.model
	}
	if f.stateDir != "" {
		set.StateDir = f.stateDir
	}
	if f.socket != "" {
		set.API.Socket = f.socket
	}
	if f.proxyPort != 0 {
		set.Firewall.ModbusProxyPort = f.proxyPort
	}
	if f.logGroup != 0 {
		set.Firewall.LogGroup = f.logGroup
	}
	if f.consoleListen != "" {
		set.Console.Listen = f.consoleListen
	}
	if err := set.Validate(); err != nil {
		return err
	}
	log := newLogger(stderr, f.debug)
	defer log.Sync()
	if _, set := os.LookupEnv("GOMEMLIMIT"); !set {
		// Password hashing allocates 19 MiB per hash; on a small board the
		// garbage must go back quickly.
		debug.SetMemoryLimit(96 << 20)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	reload := make(chan struct{}, 1)
	go func() {
		for range hup {
			select {
			case reload <- struct{}{}:
			default:
			}
		}
	}()

	gateway.Version = version
	gateway.Commit = buildCommit(commit, buildSettings())
	d := gateway.New(gateway.Config{Settings: set, SettingsPath: f.config, Logger: log})
	log.Info("zonegate starting", zap.String("version", version), zap.String("model", set.Model),
		zap.String("state_dir", set.StateDir), zap.String("socket", set.API.Socket), zap.Int("pid", os.Getpid()))
	if err := d.Run(ctx, reload); err != nil {
		log.Error("zonegate cannot start", zap.Error(err))
		return cli.Exit(cli.ExitFailure)
	}
	return nil
}
