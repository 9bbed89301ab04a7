package api

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// serve runs h on a Unix socket and returns a client for it.
func serve(t *testing.T, h http.HandlerFunc) *Client {
	t.Helper()
	dir, err := os.MkdirTemp("", "zgapi")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "api.sock")
	ln, err := net.Listen("unix", sock)
	require.NoError(t, err)
	srv := httptest.NewUnstartedServer(h)
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	c := NewClient(sock)
	t.Cleanup(c.Close)
	return c
}

func TestClientSendsAndDecodes(t *testing.T) {
	c := serve(t, func(w http.ResponseWriter, r *http.Request) {
		assert.Equal(t, "POST", r.Method)
		assert.Equal(t, PathUsers+"/vera/role", r.URL.Path)
		assert.Equal(t, "Bearer tok", r.Header.Get("Authorization"))
		assert.Equal(t, "application/json", r.Header.Get("Content-Type"))
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"user":"vera","done":"role","unchanged":true}`))
	})
	c.Token = "tok"
	res, err := c.UserAction(context.Background(), "vera", ActionRole, &UserRequest{Role: "operator"})
	require.NoError(t, err)
	assert.Equal(t, UserActionResult{User: "vera", Done: "role", Unchanged: true}, res)
}

func TestClientErrors(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		status  int
		body    string
		message string
		diags   []string
	}{
		{"api error", 422, `{"error":"the model has 1 error(s); nothing was changed","diagnostics":["pushed model:3:4: bad"]}`,
			"the model has 1 error(s); nothing was changed", []string{"pushed model:3:4: bad"}},
		{"no JSON", 502, "bad gateway", "GET /v1/status: 502 Bad Gateway", nil},
		{"empty JSON", 500, `{}`, "GET /v1/status: 500 Internal Server Error", nil},
	} {
		c := serve(t, func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(tc.status)
			_, _ = w.Write([]byte(tc.body))
		})
		_, err := c.Status(ctx)
		var e *Error
		require.True(t, errors.As(err, &e), "%s: %v is no *Error", tc.name, err)
		assert.Equal(t, tc.status, e.Status, tc.name)
		assert.Equal(t, tc.message, e.Message, tc.name)
		assert.Equal(t, tc.diags, e.Diagnostics, tc.name)
	}
	e := &Error{Message: "refused", Diagnostics: []string{"f:1:2: a", "f:3:4: b"}}
	assert.Equal(t, "refused\nf:1:2: a\nf:3:4: b", e.Error(), "the diagnostics follow the message, one per line")

	c := serve(t, func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte(`[`)) })
	_, err := c.History(ctx)
	assert.ErrorContains(t, err, "not the expected JSON")
}
