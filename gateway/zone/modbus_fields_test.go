package zone

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zonegate/zonegate/protocols/modbus"
	"github.com/zonegate/zonegate/protocols/modbus/modbusrules"
)

// diagConduit is lintText with one Modbus conduit from dmz into control
// (line 14 on): response_timeout on line 20 (value at column 25), a
// diagnostics rule on line 22 whose sub_functions list starts at 23:27.
func diagConduit(timeout, rule, subs string) string {
	src := lintText + `  - name: c
    from: dmz
    to: control
    services: [tcp/502]
    inspect: modbus
    modbus:
`
	if timeout != "" {
		src += "      response_timeout: " + timeout + "\n"
	} else {
		src += "      mode: enforce\n"
	}
	src += "      allow:\n        - " + rule + "\n"
	if subs != "" {
		src += "          sub_functions: [" + subs + "]\n"
	}
	return src
}

func TestLoadResponseTimeout(t *testing.T) {
	m := mustLoad(t, diagConduit("500ms", "function: diagnostics", ""))
	assert.Equal(t, 500*time.Millisecond, modbusSpec(m.Conduit("c")).ResponseTimeout)
	m = mustLoad(t, diagConduit("", "function: diagnostics", ""))
	assert.Zero(t, modbusSpec(m.Conduit("c")).ResponseTimeout, "unset: the proxy's default")

	for _, tt := range []struct{ value, phrase string }{
		{"soon", `response_timeout "soon" is not a duration`},
		{"500", `response_timeout "500" is not a duration`},
		{"0s", "must be above 0"},
		{"-1s", "must be above 0"},
		{"2m", "is above 1m0s"},
	} {
		t.Run(tt.value, func(t *testing.T) {
			src := diagConduit(tt.value, "function: diagnostics", "")
			wantOnly(t, loadErrors(t, src), src, "20:25", tt.phrase)
		})
	}
}

func TestLoadDiagnosticsSubFunctions(t *testing.T) {
	m := mustLoad(t, diagConduit("", "function: diagnostics", "restart_communications, 4, return_query_data"))
	rules := modbusSpec(m.Conduit("c")).Rules
	require.Len(t, rules, 1)
	assert.Equal(t, []uint16{1, 4, 0}, rules[0].SubFunctions)

	m = mustLoad(t, diagConduit("", "function: 8", "clear_counters"))
	assert.Equal(t, []uint16{modbus.DiagClearCounters}, modbusSpec(m.Conduit("c")).Rules[0].SubFunctions, "the numeric spelling of diagnostics")

	m = mustLoad(t, diagConduit("", "function: diagnostics", ""))
	assert.Nil(t, modbusSpec(m.Conduit("c")).Rules[0].SubFunctions, "no list: the non-disruptive default")

	for _, tt := range []struct {
		name, rule, subs, pos string
		phrases               []string
	}{
		{"unknown name", "function: diagnostics", "restart", "23:27", []string{`unknown diagnostics sub-function "restart"`, "did you mean restart_communications?"}},
		{"typo", "function: diagnostics", "return_query_date", "23:27", []string{"did you mean return_query_data?"}},
		{"number out of range", "function: diagnostics", "70000", "23:27", []string{"outside 0-65535"}},
		{"repeated", "function: diagnostics", "1, restart_communications", "23:30", []string{"listed twice"}},
		{"empty", "function: diagnostics", "", "", nil},
		{"other function", "function: report_server_id", "return_query_data", "23:11", []string{"sub_functions: applies only to `function: diagnostics`", "report_server_id"}},
		{"read rule", "read: coils\n          addresses: 0-9", "return_query_data", "24:11", []string{"sub_functions: applies only to `function: diagnostics` rules, not to a read rule"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			src := diagConduit("", tt.rule, tt.subs)
			if tt.name == "empty" {
				src = strings.Replace(src, "          sub_functions: []\n", "", 1) + "          sub_functions: []\n"
				wantOnly(t, loadErrors(t, src), src, "23:26", "sub_functions lists no sub-function")
				return
			}
			wantOnly(t, loadErrors(t, src), src, tt.pos, tt.phrases...)
		})
	}
}

func TestCanonicalNewModbusFields(t *testing.T) {
	plain := diagConduit("", "function: diagnostics", "")
	assert.NotContains(t, string(mustLoad(t, plain).Canonical()), "response_timeout", "unset fields are omitted")
	assert.NotContains(t, string(mustLoad(t, plain).Canonical()), "sub_functions", "unset fields are omitted")

	a := diagConduit("1500ms", "function: diagnostics", "force_listen_only, restart_communications, 0")
	b := diagConduit("1.5s", "function: 8", "1, return_query_data, 4")
	canon := string(mustLoad(t, a).Canonical())
	assert.Contains(t, canon, "response_timeout: 1.5s")
	assert.Contains(t, canon, "sub_functions: [return_query_data, restart_communications, force_listen_only]", "names, in the order of their codes")
	assert.Equal(t, digestOf(t, a), digestOf(t, b), "the same rules written differently")
	assert.NotEqual(t, digestOf(t, plain), digestOf(t, diagConduit("", "function: diagnostics", "return_query_data")), "a list is not the default")
	assert.NotEqual(t, digestOf(t, plain), digestOf(t, diagConduit("1s", "function: diagnostics", "")), "a response timeout changes the digest")

	// The canonical form loads back to the same model.
	again := mustLoad(t, canon)
	assert.Equal(t, canon, string(again.Canonical()))
}

func TestLintDisruptiveDiagnostics(t *testing.T) {
	conduit := func(to, subs string) string {
		return "  - {name: c, from: dmz, to: " + to + ", services: [tcp/502], inspect: modbus, modbus: {allow: [{function: diagnostics" + subs + "}]}}\n"
	}
	runLintCases(t, modbusrules.RuleDisruptiveDiag, []lintCase{
		{"restart and listen-only into high", conduit("control", ", sub_functions: [force_listen_only, restart_communications]"),
			[]lintWant{{"14:85", `conduit "c" allows diagnostics force_listen_only and restart_communications into high-importance zone "control"`}}},
		{"listen-only by number into high", conduit("safety", ", sub_functions: [4]"), []lintWant{{"14:84", "force_listen_only"}}},
		{"counters cleared into high", conduit("control", ", sub_functions: [clear_counters, return_query_data]"), nil},
		{"default set into high", conduit("control", ""), nil},
		{"restart into medium", conduit("mes", ", sub_functions: [restart_communications]"), nil},
	})
}
