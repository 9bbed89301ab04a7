package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/zonegate/zonegate/cmd/internal/cli"
	"github.com/zonegate/zonegate/firewall"
	"github.com/zonegate/zonegate/protocols/modbus/modbusrules"
	"github.com/zonegate/zonegate/test/lab"
)

// modulePath identifies this repository when zonelab builds zonegate.
const modulePath = "github.com/zonegate/zonegate"

// runOpts are the flags of run.
type runOpts struct {
	prefix, zonegate string
	proxyPort        uint16
	readyTimeout     time.Duration
	console          bool   // serve and check the web console
	consoleForward   string // relay this address of the machine to the console
}

func runCmd() *cobra.Command {
	var o runOpts
	cmd := &cobra.Command{
		Use:   "run MODEL [--prefix P] [--zonegate PATH] [--modbus-proxy-port N] [--console [--console-forward ADDR]]",
		Short: "build the lab, run `zonegate serve` in its gateway until Ctrl-C, then remove it",
		Args:  cli.Args(1, 1, "the zone MODEL file is"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.consoleForward != "" && !o.console {
				return cli.Usagef("--console-forward goes with --console")
			}
			return exit(runRun(o, args[0], cmd.OutOrStdout(), cmd.ErrOrStderr()))
		},
	}
	fs := cmd.Flags()
	prefixFlag(fs, &o.prefix)
	fs.StringVar(&o.zonegate, "zonegate", "", "zonegate binary to run (default: the one next to zonelab, else built from the repository zonelab runs in)")
	fs.Uint16Var(&o.proxyPort, "modbus-proxy-port", modbusrules.Protocol.DefaultPort, "`port` of the Modbus proxy, passed to zonegate serve")
	fs.DurationVar(&o.readyTimeout, "ready-timeout", 30*time.Second, "how long zonegate may take to apply the model")
	fs.BoolVar(&o.console, "console", false, fmt.Sprintf("serve the web console on the gateway's address in the first management zone, port %d; create the account %s and check the console from that zone", lab.ConsolePort, labAdmin))
	fs.StringVar(&o.consoleForward, "console-forward", "", "with --console: relay `ADDR` of this machine (e.g. 127.0.0.1:8443) to the console, as from the management zone")
	return cmd
}

func runRun(o runOpts, model string, stdout, stderr io.Writer) int {
	pos := []string{model}
	modelPath, err := filepath.Abs(pos[0])
	if err != nil {
		return errorf(stderr, exitUsage, "%v", err)
	}
	m, code := prepare(pos[0], o.prefix, stderr)
	if m == nil {
		return code
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	zonegate, cleanup, err := findZonegate(o.zonegate, stdout)
	if err != nil {
		return errorf(stderr, exitSetup, "%v", err)
	}
	defer cleanup()

	l, code := buildLab(ctx, m, o.prefix, stdout, stderr)
	if l == nil {
		return code
	}
	down := func() int {
		if err := l.Down(); err != nil {
			return errorf(stderr, exitSetup, "remove the lab: %v\nretry with `zonelab down --prefix %s`", err, l.Prefix)
		}
		fmt.Fprintf(stdout, "lab %q removed\n", l.Prefix)
		return exitOK
	}

	// The lab's daemon keeps its state (model versions, accounts, audit
	// log) and its API socket under /run, apart from a real gateway's.
	stateDir := lab.StateDir(l.Prefix)
	_ = os.RemoveAll(stateDir)
	args := []string{"serve", "--model", modelPath, "--modbus-proxy-port", strconv.FormatUint(uint64(o.proxyPort), 10),
		"--state-dir", stateDir, "--socket", filepath.Join(stateDir, "api.sock")}
	var con *labConsole
	if o.console {
		if con, err = consoleFor(l); err != nil {
			code := errorf(stderr, exitSetup, "--console: %v", err)
			down()
			return code
		}
		args = append(args, "--console-listen", con.addr.String())
	}
	cmd := lab.Command(l.Gateway, zonegate, args...)
	cmd.Stdout, cmd.Stderr = stderr, stderr
	// Its own process group: Ctrl-C reaches zonelab only, which stops the
	// daemon before removing its namespace. If zonelab dies, the kernel
	// sends the daemon SIGTERM (and `zonelab down` finds any survivor).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		code := errorf(stderr, exitSetup, "start zonegate in %s: %v", l.Gateway, err)
		down()
		return code
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stopDaemon := func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	}

	want := firewall.Expected(firewall.Compile(m, firewall.Options{Proxies: []firewall.ProxyPort{{Inspector: modbusrules.Name, Port: o.proxyPort}}}))
	if err := waitRuleset(ctx, l.Gateway, want, exited, o.readyTimeout); err != nil {
		if !errors.Is(err, errDaemonExited) {
			stopDaemon()
		}
		code := exitSetup
		if ctx.Err() != nil {
			code = exitOK
			fmt.Fprintln(stdout, "interrupted")
		} else {
			errorf(stderr, exitSetup, "%v", err)
		}
		if c := down(); c != exitOK {
			return c
		}
		return code
	}
	fmt.Fprintf(stdout, "\nzonegate serve (pid %d) runs in %s and has applied %s\n", cmd.Process.Pid, l.Gateway, pos[0])
	if con != nil {
		err := con.check(ctx, l, stateDir, o.readyTimeout, stdout)
		if err == nil && o.consoleForward != "" {
			var stopForward func()
			if stopForward, err = con.forward(ctx, o.consoleForward, stdout); err == nil {
				defer stopForward()
			}
		}
		if err != nil {
			stopDaemon()
			errorf(stderr, exitSetup, "%v", err)
			down()
			return exitSetup
		}
	}
	fmt.Fprintf(stdout, "probe it:  zonelab probe %s --prefix %s\n", pos[0], l.Prefix)
	if hosts := l.Hosts(); len(hosts) > 0 {
		fmt.Fprintf(stdout, "open a shell in a zone:  ip netns exec %s bash\n", hosts[0].NS)
	}
	fmt.Fprintf(stdout, "ready; Ctrl-C stops zonegate and removes the lab\n")

	select {
	case <-ctx.Done():
		fmt.Fprintf(stdout, "stopping zonegate (pid %d)\n", cmd.Process.Pid)
		stopDaemon()
		return down()
	case err := <-exited:
		errorf(stderr, exitSetup, "zonegate serve stopped on its own (%v); removing the lab", exitText(err))
		down()
		return exitSetup
	}
}

var errDaemonExited = errors.New("zonegate serve exited")

// waitRuleset waits until table inet zonegate in the gateway holds want:
// zonegate serve first puts a fail-close ruleset in place, then the model's.
func waitRuleset(ctx context.Context, gw string, want firewall.Fingerprint, exited <-chan error, timeout time.Duration) error {
	target, err := firewall.OpenNetNS(gw)
	if err != nil {
		return err
	}
	defer target.Close()
	deadline := time.Now().Add(timeout)
	for {
		fp, err := firewall.Current(target)
		if err == nil && fp.Equal(want) {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-exited:
			return fmt.Errorf("%w before applying the model (%s); its messages are above", errDaemonExited, exitText(err))
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("zonegate serve did not apply the model within %s (last error: %v); its messages are above", timeout, err)
		}
	}
}

func exitText(err error) string {
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}

// findZonegate returns the zonegate binary to run: the one given, the one
// next to this executable, or one built from the repository that holds
// the working directory. cleanup removes a built binary.
func findZonegate(given string, stdout io.Writer) (path string, cleanup func(), err error) {
	cleanup = func() {}
	if given != "" {
		p, err := filepath.Abs(given)
		if err != nil {
			return "", cleanup, err
		}
		if st, err := os.Stat(p); err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
			return "", cleanup, fmt.Errorf("--zonegate %s is not an executable file: build it with `make build` (bin/zonegate)", given)
		}
		return p, cleanup, nil
	}
	if self, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(self), "zonegate")
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p, cleanup, nil
		}
	}
	root, ok := repoRoot()
	if !ok {
		return "", cleanup, errors.New("cannot find the zonegate binary: put it next to zonelab, pass --zonegate PATH, or run zonelab inside the zonegate repository so that it can build it")
	}
	dir, err := os.MkdirTemp("", "zonelab-")
	if err != nil {
		return "", cleanup, err
	}
	cleanup = func() { os.RemoveAll(dir) }
	path = filepath.Join(dir, "zonegate")
	fmt.Fprintf(stdout, "building zonegate from %s\n", root)
	build := exec.Command("go", "build", "-o", path, "./cmd/zonegate")
	build.Dir = root
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		cleanup()
		return "", func() {}, fmt.Errorf("build zonegate in %s: %v\n%s\nbuild it yourself (`make build`) and pass --zonegate bin/zonegate", root, err, bytes.TrimSpace(out))
	}
	return path, cleanup, nil
}

// repoRoot finds the zonegate repository above the working directory.
func repoRoot() (string, bool) {
	dir, err := os.Getwd()
	if err != nil {
		return "", false
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.Contains(b, []byte("module "+modulePath+"\n")) {
			return dir, true
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", false
		}
		dir = parent
	}
}
