package main

import (
	"context"
	"io"
	"os"
	"os/signal"
	"syscall"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/zonegate/zonegate/gateway"
)

func init() {
	register("serve", "run the daemon: apply the model, reload it on SIGHUP", runServe)
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
	fs := newFlags("serve", "--model FILE [--island] [--modbus-proxy-port N] [--log-group N]", stderr)
	modelPath := fs.String("model", "", "zone model file to apply")
	debug := fs.Bool("debug", false, "log debug messages")
	var ff fwFlags
	ff.register(fs)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *modelPath == "" || fs.NArg() != 0 {
		fs.Usage()
		return 2
	}
	log := newLogger(stderr, *debug)
	defer log.Sync()

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

	d := gateway.New(gateway.Config{ModelPath: *modelPath, Firewall: ff.options(), Logger: log})
	log.Info("zonegate starting", zap.String("version", version), zap.String("model", *modelPath), zap.Int("pid", os.Getpid()))
	if err := d.Run(ctx, reload); err != nil {
		log.Error("zonegate cannot start", zap.Error(err))
		return 1
	}
	return 0
}
