package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// DefaultSocket is where `zonegate serve` listens unless configured.
const DefaultSocket = "/run/zonegate/api.sock"

// maxAnswer bounds an answer the client reads.
const maxAnswer = 64 << 20

// Client calls the management API over the daemon's Unix socket. Set
// Token (from Login) for every call but Init and Login.
type Client struct {
	Socket string
	Token  string
	HTTP   *http.Client
}

// NewClient returns a client for the socket at path.
func NewClient(socket string) *Client {
	return &Client{Socket: socket, HTTP: &http.Client{
		Timeout: 2 * time.Minute,
		Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		}},
	}}
}

// Close releases idle connections.
func (c *Client) Close() { c.HTTP.CloseIdleConnections() }

// Do sends a request with in as its JSON body (none when nil) and decodes
// the JSON answer into out (when not nil). An error answer is an *Error
// carrying the HTTP status.
func (c *Client) Do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://zonegate"+path, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return fmt.Errorf("cannot reach zonegate at %s: %v (is `zonegate serve` running? pick the socket with --socket or ZONEGATE_SOCKET)", c.Socket, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return fmt.Errorf("%s %s: read the answer: %w", method, path, err)
	}
	if resp.StatusCode >= 300 {
		e := &Error{}
		if json.Unmarshal(data, e) != nil || e.Message == "" {
			e = &Error{Message: fmt.Sprintf("%s %s: %s", method, path, resp.Status)}
		}
		e.Status = resp.StatusCode
		return e
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("%s %s: the answer is not the expected JSON (is the daemon another version?): %w", method, path, err)
		}
	}
	return nil
}

// Init creates the first administrator; it works only while no account
// exists.
func (c *Client) Init(ctx context.Context, user, password string) (InitResult, error) {
	var out InitResult
	err := c.Do(ctx, http.MethodPost, PathInit, Credentials{User: user, Password: password}, &out)
	return out, err
}

// Login returns a session token. It does not set c.Token.
func (c *Client) Login(ctx context.Context, user, password string) (LoginResult, error) {
	var out LoginResult
	err := c.Do(ctx, http.MethodPost, PathLogin, Credentials{User: user, Password: password}, &out)
	return out, err
}

// Logout ends the session of c.Token.
func (c *Client) Logout(ctx context.Context) error {
	return c.Do(ctx, http.MethodPost, PathLogout, nil, nil)
}

// Status returns the daemon's status.
func (c *Client) Status(ctx context.Context) (Status, error) {
	var out Status
	err := c.Do(ctx, http.MethodGet, PathStatus, nil, &out)
	return out, err
}

// History returns the kept model versions.
func (c *Client) History(ctx context.Context) ([]ModelVersion, error) {
	var out []ModelVersion
	err := c.Do(ctx, http.MethodGet, PathHistory, nil, &out)
	return out, err
}

// Push validates and applies a model.
func (c *Client) Push(ctx context.Context, req PushRequest) (PushResult, error) {
	var out PushResult
	err := c.Do(ctx, http.MethodPost, PathPush, req, &out)
	return out, err
}

// Confirm makes the pushed model permanent.
func (c *Client) Confirm(ctx context.Context) (ModelVersion, error) {
	var out ModelVersion
	err := c.Do(ctx, http.MethodPost, PathConfirm, nil, &out)
	return out, err
}

// Rollback undoes the pending change (version 0) or goes back to version.
// It returns the version that runs now (0: none).
func (c *Client) Rollback(ctx context.Context, version int) (int, error) {
	var out RollbackResult
	err := c.Do(ctx, http.MethodPost, PathRollback, RollbackRequest{Version: version}, &out)
	return out.Version, err
}

// SetIsland turns island mode on or off.
func (c *Client) SetIsland(ctx context.Context, on bool) error {
	return c.Do(ctx, http.MethodPost, PathIsland, IslandRequest{On: on}, nil)
}

// ChangePassword changes the caller's own password; it ends all sessions
// of the user.
func (c *Client) ChangePassword(ctx context.Context, old, new string) error {
	return c.Do(ctx, http.MethodPost, PathPassword, PasswordRequest{Old: old, New: new}, nil)
}

// Users lists the accounts.
func (c *Client) Users(ctx context.Context) ([]User, error) {
	var out []User
	err := c.Do(ctx, http.MethodGet, PathUsers, nil, &out)
	return out, err
}

// AddUser creates an account.
func (c *Client) AddUser(ctx context.Context, req UserRequest) error {
	return c.Do(ctx, http.MethodPost, PathUsers, req, nil)
}

// DeleteUser removes an account.
func (c *Client) DeleteUser(ctx context.Context, name string) error {
	return c.Do(ctx, http.MethodDelete, UserPath(name), nil, nil)
}

// UserAction runs one of the Action* constants on an account; req is nil
// for disable, enable and unlock. The result says whether the account
// was already that way (Unchanged).
func (c *Client) UserAction(ctx context.Context, name, action string, req *UserRequest) (UserActionResult, error) {
	var in any
	if req != nil {
		in = req
	}
	var out UserActionResult
	err := c.Do(ctx, http.MethodPost, UserPath(name)+"/"+url.PathEscape(action), in, &out)
	return out, err
}

// Model returns the running model version's text.
func (c *Client) Model(ctx context.Context) (RunningModel, error) {
	var out RunningModel
	err := c.Do(ctx, http.MethodGet, PathModel, nil, &out)
	return out, err
}

// UserPath is the path of one account.
func UserPath(name string) string { return PathUsers + "/" + url.PathEscape(name) }

// Events returns the aggregated data-plane events newer than since,
// waiting up to wait (at most MaxEventsWait) for one when there is none.
func (c *Client) Events(ctx context.Context, since uint64, wait time.Duration) (EventsResult, error) {
	var out EventsResult
	q := url.Values{"since": {strconv.FormatUint(since, 10)}}
	if wait > 0 {
		q.Set("wait", wait.String())
	}
	err := c.Do(ctx, http.MethodGet, PathEvents+"?"+q.Encode(), nil, &out)
	return out, err
}
