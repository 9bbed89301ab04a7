package gatewaytest

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zonegate/zonegate/gateway/audit"
	"github.com/zonegate/zonegate/gateway/zone"
)

// States returns "1:running 2:pending ..." of a version history.
func States(t testing.TB, vs []zone.ModelVersion, err error) string {
	t.Helper()
	require.NoError(t, err)
	var out []string
	for _, v := range vs {
		out = append(out, fmt.Sprintf("%d:%s", v.Number, v.State))
	}
	return strings.Join(out, " ")
}

// ConfigRecords returns the records of the audit log in dir of the
// configuration category, as "actor action object result", oldest first;
// settings changes are left out.
func ConfigRecords(t testing.TB, dir string) []string {
	t.Helper()
	var out []string
	require.NoError(t, audit.Read(dir, audit.Filter{}, func(e audit.Entry) error {
		if e.Category == audit.CategoryConfig && e.Action != audit.ActionSettingsChanged {
			out = append(out, e.Actor+" "+string(e.Action)+" "+e.Object+" "+string(e.Result))
		}
		return nil
	}))
	return out
}

// Entries returns the entries of the audit log in dir with action a.
func Entries(t testing.TB, dir string, a audit.Action) []audit.Entry {
	t.Helper()
	var out []audit.Entry
	require.NoError(t, audit.Read(dir, audit.Filter{}, func(e audit.Entry) error {
		if e.Action == a {
			out = append(out, e)
		}
		return nil
	}))
	return out
}
