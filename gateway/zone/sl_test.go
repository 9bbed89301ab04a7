package zone

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// slText is lintText with target security levels: office SL 1, dmz and mes
// SL 2, control SL 3; safety and vendor leave it unset. Conduits start on
// line 14.
func slText(t *testing.T) string {
	src := lintText
	src = replaceOnce(t, src, "{name: office, importance: low,", "{name: office, importance: low, security_level: 1,")
	src = replaceOnce(t, src, "{name: dmz, importance: medium,", "{name: dmz, importance: medium, security_level: 2,")
	src = replaceOnce(t, src, "{name: mes, importance: medium,", "{name: mes, importance: medium, security_level: 2, owner: MES team,")
	src = replaceOnce(t, src, "{name: control, importance: high,", "{name: control, importance: high, security_level: 3,")
	return src
}

func TestLintSLTargetGap(t *testing.T) {
	inspected := ", inspect: modbus, modbus: {allow: [{read: coils, addresses: 0-9}]}"
	tests := []struct {
		name, conduit string
		want          []string // positions of the [sl-target-gap] warnings
		phrase        string
	}{
		{"lower into higher, uninspected", "{name: c, from: office, to: control, services: [tcp/443]}", []string{"14:5"},
			`conduit "c" leads from zone "office" (SL-T 1) into zone "control" (SL-T 3) without inspection`},
		{"one level up", "{name: c, from: dmz, to: control, services: [tcp/4840]}", []string{"14:5"}, `(SL-T 2) into zone "control" (SL-T 3)`},
		{"lower into higher, inspected", "{name: c, from: dmz, to: control, services: [tcp/502]" + inspected + "}", nil, ""},
		{"higher into lower", "{name: c, from: control, to: office, services: [tcp/443]}", nil, ""},
		{"same level", "{name: c, from: dmz, to: mes, services: [tcp/443]}", nil, ""},
		{"target unset", "{name: c, from: office, to: safety, services: [tcp/443]}", nil, ""},
		{"source unset", "{name: c, from: vendor, to: control, services: [tcp/443]}", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := slText(t) + "  - " + tt.conduit + "\n"
			got := withRule(lintOf(t, src), RuleSLTargetGap)
			require.Len(t, got, len(tt.want), explain(got, src))
			for i, pos := range tt.want {
				assert.Equal(t, pos, posString(got[i].Pos))
				assert.Contains(t, got[i].String(), "warning: [sl-target-gap] ")
				assert.Contains(t, got[i].Message, tt.phrase)
			}
		})
	}
}

func TestLoadSecurityLevelAndOwner(t *testing.T) {
	m := mustLoad(t, slText(t))
	assert.Equal(t, 1, m.Zone("office").SecurityLevel)
	assert.Equal(t, 3, m.Zone("control").SecurityLevel)
	assert.Equal(t, 0, m.Zone("safety").SecurityLevel, "unset")
	assert.Equal(t, "MES team", m.Zone("mes").Owner)
	assert.Equal(t, "", m.Zone("office").Owner)
	c := string(m.Canonical())
	assert.Contains(t, c, "security_level: 3\n")
	assert.Contains(t, c, "owner: MES team\n")
}

func TestLoadSecurityLevelErrors(t *testing.T) {
	// zonesText line 8 is "    importance: low" of zone office.
	for _, tt := range []struct{ value, pos string }{
		{"0", "9:21"}, {"5", "9:21"}, {"-1", "9:21"}, {"x", "9:21"}, {`"2.5"`, "9:21"},
	} {
		t.Run(tt.value, func(t *testing.T) {
			src := replaceOnce(t, zonesText, "    importance: low\n", "    importance: low\n    security_level: "+tt.value+"\n")
			ds := loadErrors(t, src)
			require.Len(t, ds, 1, explain(ds, src))
			assert.Equal(t, tt.pos, posString(ds[0].Pos))
			assert.Contains(t, ds[0].String(), "test.yaml:"+tt.pos+": security_level ")
			assert.Contains(t, ds[0].Message, "is not an IEC 62443 target security level: write 1, 2, 3 or 4")
		})
	}
	src := replaceOnce(t, zonesText, "    importance: low\n", "    importance: low\n    security_level: [2]\n")
	wantOnly(t, loadErrors(t, src), src, "9:21", "security_level must be a single value, not a list")
	src = replaceOnce(t, zonesText, "    importance: low\n", "    importance: low\n    security-level: 2\n")
	wantOnly(t, loadErrors(t, src), src, "9:5", `unknown key "security-level" in a zone`, `did you mean "security_level"?`)
	src = replaceOnce(t, zonesText, "    importance: low\n", "    importance: low\n    ownr: IT\n")
	wantOnly(t, loadErrors(t, src), src, "9:5", `unknown key "ownr" in a zone`, `did you mean "owner"?`)
}

func TestCanonicalSecurityLevelAndOwner(t *testing.T) {
	base := mustLoad(t, canonA)
	// Unset fields leave the canonical form, and so every digest taken
	// before they existed, unchanged.
	assert.NotContains(t, string(base.Canonical()), "security_level")
	assert.NotContains(t, string(base.Canonical()), "owner")
	seen := map[string]string{base.Digest(): "unchanged"}
	for name, repl := range map[string]string{
		"sl 2":        "    importance: low\n    security_level: 2\n",
		"sl 3":        "    importance: low\n    security_level: 3\n",
		"owner":       "    importance: low\n    owner: IT department\n",
		"owner, sl 2": "    importance: low\n    owner: IT department\n    security_level: 2\n",
	} {
		d := mustLoad(t, replaceOnce(t, canonA, "    importance: low\n", repl)).Digest()
		if other, dup := seen[d]; dup {
			t.Errorf("%s: same digest as %s", name, other)
		}
		seen[d] = name
	}
	a := mustLoad(t, replaceOnce(t, canonA, "    importance: low\n", "    importance: low\n    security_level: 2\n    owner: IT\n"))
	b := mustLoad(t, replaceOnce(t, canonA, "    importance: low\n", "    owner: 'IT'\n    security_level: \"2\"\n    importance: low\n"))
	assert.Equal(t, a.Digest(), b.Digest(), "key order and quoting do not change the digest")
}

func TestDiffSecurityLevelAndOwner(t *testing.T) {
	a := mustLoad(t, canonA)
	b := mustLoad(t, replaceOnce(t, canonA, "    importance: low\n", "    importance: low\n    security_level: 2\n    owner: IT\n"))
	var got []string
	for _, c := range Diff(a, b) {
		got = append(got, c.String())
	}
	require.Len(t, got, 1)
	assert.Equal(t, "~ zone office: security_level: (none) -> 2; owner: (none) -> IT", got[0])
	assert.True(t, strings.HasPrefix(DiffSummary(Diff(a, b)), "~1 zone (office)"))
}
