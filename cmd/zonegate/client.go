package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// defaultSocket is where `zonegate serve` listens unless configured.
const defaultSocket = "/run/zonegate/api.sock"

// apiClient talks to the daemon's management API over its Unix socket.
type apiClient struct {
	socket string
	token  string
	http   *http.Client
}

// socketFlag adds --socket; the default comes from ZONEGATE_SOCKET.
func socketFlag(fs *flag.FlagSet) *string {
	def := os.Getenv("ZONEGATE_SOCKET")
	if def == "" {
		def = defaultSocket
	}
	return fs.String("socket", def, "management API socket of zonegate serve (or set ZONEGATE_SOCKET)")
}

func newClient(socket string) *apiClient {
	return &apiClient{socket: socket, http: &http.Client{
		Timeout: 2 * time.Minute,
		Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		}},
	}}
}

// apiError is an error answer of the API.
type apiError struct {
	Status      int
	Message     string   `json:"error"`
	Diagnostics []string `json:"diagnostics"`
}

func (e *apiError) Error() string {
	msg := e.Message
	if len(e.Diagnostics) > 0 {
		msg += "\n" + strings.Join(e.Diagnostics, "\n")
	}
	return msg
}

// call sends a request and decodes the JSON answer into out (if not nil).
func (c *apiClient) call(method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, "http://zonegate"+path, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("cannot reach zonegate at %s: %v (is `zonegate serve` running? pick the socket with --socket or ZONEGATE_SOCKET)", c.socket, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode >= 300 {
		e := &apiError{Status: resp.StatusCode}
		if json.Unmarshal(data, e) != nil || e.Message == "" {
			e.Message = fmt.Sprintf("%s %s: %s", method, path, resp.Status)
		}
		return e
	}
	if out != nil {
		return json.Unmarshal(data, out)
	}
	return nil
}

// session is what `zonegate login` keeps for the next commands.
type session struct {
	Socket  string    `json:"socket"`
	User    string    `json:"user"`
	Token   string    `json:"token"`
	Expires time.Time `json:"expires"`
}

// sessionPath is $ZONEGATE_SESSION, or session.json in the user's
// configuration directory.
func sessionPath() (string, error) {
	if p := os.Getenv("ZONEGATE_SESSION"); p != "" {
		return p, nil
	}
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("no configuration directory for the session token (set ZONEGATE_SESSION): %w", err)
	}
	return filepath.Join(dir, "zonegate", "session.json"), nil
}

func saveSession(s session) error {
	path, err := sessionPath()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	b, _ := json.Marshal(s)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func loadSession() (session, error) {
	var s session
	path, err := sessionPath()
	if err != nil {
		return s, err
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return s, errors.New("not logged in: run `zonegate login USER` first")
	}
	if err != nil {
		return s, err
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return s, fmt.Errorf("session file %s is corrupt: run `zonegate login USER` again", path)
	}
	if time.Now().After(s.Expires) {
		return s, errors.New("the session has expired: run `zonegate login USER` again")
	}
	return s, nil
}

// authedClient returns a client with the saved session's token. The
// socket flag wins when given explicitly.
func authedClient(socket string, socketSet bool) (*apiClient, error) {
	s, err := loadSession()
	if err != nil {
		return nil, err
	}
	if !socketSet && os.Getenv("ZONEGATE_SOCKET") == "" && s.Socket != "" {
		socket = s.Socket
	}
	c := newClient(socket)
	c.token = s.Token
	return c, nil
}

// flagSet reports whether a flag was given on the command line.
func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// readPassword prompts on the terminal without echo, or reads one line
// from standard input when it is not a terminal (scripts, tests).
func readPassword(stderr io.Writer, stdin *os.File, prompt string) (string, error) {
	fd := int(stdin.Fd())
	old, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil { // not a terminal
		return readLine(stdin)
	}
	fmt.Fprint(stderr, prompt)
	noEcho := *old
	noEcho.Lflag &^= unix.ECHO
	noEcho.Lflag |= unix.ICANON | unix.ISIG
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, &noEcho); err != nil {
		return "", err
	}
	defer func() {
		_ = unix.IoctlSetTermios(fd, unix.TCSETS, old)
		fmt.Fprintln(stderr)
	}()
	return readLine(stdin)
}

// stdinReader is shared so that several passwords can be read from one
// piped standard input.
var stdinReader *bufio.Reader

func readLine(f *os.File) (string, error) {
	if stdinReader == nil {
		stdinReader = bufio.NewReader(f)
	}
	line, err := stdinReader.ReadString('\n')
	if err != nil && (err != io.EOF || line == "") {
		return "", fmt.Errorf("read password: %w", err)
	}
	return strings.TrimRight(line, "\r\n"), nil
}

// newPassword asks for a new password, twice on a terminal.
func newPassword(stderr io.Writer, prompt string) (string, error) {
	p1, err := readPassword(stderr, os.Stdin, prompt)
	if err != nil {
		return "", err
	}
	if _, err := unix.IoctlGetTermios(int(os.Stdin.Fd()), unix.TCGETS); err == nil {
		p2, err := readPassword(stderr, os.Stdin, "repeat it: ")
		if err != nil {
			return "", err
		}
		if p1 != p2 {
			return "", errors.New("the two passwords differ; nothing was changed")
		}
	}
	return p1, nil
}
