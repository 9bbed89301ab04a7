package main

import (
	"context"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/zonegate/zonegate/gateway"
)

func init() {
	register("serve", "run the daemon: fail close, apply the model, Modbus proxy, management API", runServe)
}

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

func runServe(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("serve", "[--config FILE] [--model FILE] [--state-dir DIR] [--socket PATH] [--modbus-proxy-port N] [--log-group N]", stderr)
	configPath := fs.String("config", "", "daemon settings file (see configs/zonegate.yaml)")
	modelPath := fs.String("model", "", "zone model file (overrides the settings' model)")
	stateDir := fs.String("state-dir", "", "state directory: model versions, accounts, audit log (overrides the settings)")
	socket := fs.String("socket", "", "management API socket (overrides the settings)")
	proxyPort := fs.Uint("modbus-proxy-port", 0, "local port of the Modbus proxy (overrides the settings)")
	logGroup := fs.Uint("log-group", 0, "NFLOG group for dropped packets (overrides the settings)")
	debugLog := fs.Bool("debug", false, "log debug messages")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 0 || (*configPath == "" && *modelPath == "") {
		fs.Usage()
		return 2
	}
	set := gateway.DefaultSettings()
	if *configPath != "" {
		var err error
		if set, err = gateway.LoadSettings(*configPath); err != nil {
			return errorf(stderr, "%v", err)
		}
	}
	if *modelPath != "" {
		set.Model = *modelPath
	}
	if *stateDir != "" {
		set.StateDir = *stateDir
	}
	if *socket != "" {
		set.API.Socket = *socket
	}
	if *proxyPort != 0 {
		set.Firewall.ModbusProxyPort = uint16(*proxyPort)
	}
	if *logGroup != 0 {
		set.Firewall.LogGroup = uint16(*logGroup)
	}
	if err := set.Validate(); err != nil {
		return errorf(stderr, "%v", err)
	}
	log := newLogger(stderr, *debugLog)
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
	d := gateway.New(gateway.Config{Settings: set, SettingsPath: *configPath, Logger: log})
	log.Info("zonegate starting", zap.String("version", version), zap.String("model", set.Model),
		zap.String("state_dir", set.StateDir), zap.String("socket", set.API.Socket), zap.Int("pid", os.Getpid()))
	if err := d.Run(ctx, reload); err != nil {
		log.Error("zonegate cannot start", zap.Error(err))
		return 1
	}
	return 0
}
