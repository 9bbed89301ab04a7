package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/zonegate/zonegate/gateway/api"
)

// socketFlag adds --socket; the default comes from ZONEGATE_SOCKET.
func socketFlag(cmd *cobra.Command) *string {
	def := os.Getenv("ZONEGATE_SOCKET")
	if def == "" {
		def = api.DefaultSocket
	}
	return cmd.Flags().String("socket", def, "management API socket of zonegate serve (or set ZONEGATE_SOCKET)")
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
func authedClient(cmd *cobra.Command, socket string) (*api.Client, error) {
	s, err := loadSession()
	if err != nil {
		return nil, err
	}
	if !cmd.Flags().Changed("socket") && os.Getenv("ZONEGATE_SOCKET") == "" && s.Socket != "" {
		socket = s.Socket
	}
	c := api.NewClient(socket)
	c.Token = s.Token
	return c, nil
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
	if err != nil && (!errors.Is(err, io.EOF) || line == "") {
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
