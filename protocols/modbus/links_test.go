package modbus

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zonegate/zonegate/protocols/internal/deps"
)

// TestLinksNoNetNoLogger: the pure engine links no socket code and no
// logger, directly or through any package it imports.
func TestLinksNoNetNoLogger(t *testing.T) {
	all, err := deps.Of(".")
	require.NoError(t, err)
	require.True(t, all["encoding/binary"], "the walk reads the standard library")
	for p := range all {
		if p == "net" || strings.HasPrefix(p, "net/") || strings.HasPrefix(p, "go.uber.org/") || strings.HasPrefix(p, deps.Module) && p != deps.Module+"/protocols/modbus" {
			t.Errorf("protocols/modbus links %s", p)
		}
	}
}
