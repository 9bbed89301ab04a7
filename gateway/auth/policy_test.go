package auth

import (
	"strings"
	"testing"
	"time"
)

func TestPasswordPolicy(t *testing.T) {
	p := DefaultPolicy()
	p.ForbiddenWords = []string{"Line3-GW", "acme"}
	good := []string{
		"violet harbor lantern 42",
		"copper-meadow-quietly-7",
		"seventeen orange kettles",
		"Tr0mb0ne!Glacier#Wicket",
		"correct horse staple sheep",
		"九つの青い提灯が揺れる夜", // 12 characters, more bytes
		"qmzv8#Lp2!xRt",
		strings.Repeat("ab1", 3) + "zqwyxv", // repetition inside, not periodic as a whole
	}
	for _, pw := range good {
		if err := p.CheckPassword("alice", pw); err != nil {
			t.Errorf("%q refused: %v", pw, err)
		}
	}
	bad := map[string]string{
		"":                             "shorter",
		"short1!A":                     "shorter",
		"elevenchars":                  "shorter",
		strings.Repeat("x", 1025):      "longer",
		"abc\ndefghijklmno":            "control",
		"tab\tseparated words":         "control",
		"alice-is-the-best":            "user name",
		"ALICE_1234567":                "user name",
		"ecila-reversed-x":             "user name",
		"my zonegate password":         "zonegate",
		"Z0neGate-rocks-2025":          "zonegate",
		"welcome to line3-gw":          "line3-gw",
		"acmecorp-secure-99":           "acme",
		"aaaaaaaaaaaaaa":               "different characters",
		"abababababab":                 "different characters",
		"abcdeabcdeabcde":              "repeated",
		"Summer123Summer123":           "repeated",
		"abcdefghijklmn":               "sequence",
		"123456789012":                 "sequence",
		"7890123456789":                "sequence",
		"qwertyuiopasdf":               "sequence",
		"1qaz2wsx3edc4rfv":             "sequence",
		"zyxwvutsrqponm":               "sequence",
		"password1234":                 "common",
		"Password1234!":                "common",
		"P@ssw0rd2024!":                "common",
		"pa55w0rd-2024":                "common",
		"1987dragon0423":               "common",
		"xxpasswordxx12":               "common",
		"iloveyou12345":                "common",
		"Welcome@2024":                 "common",
		"administrator":                "common",
		"Administrator1":               "common",
		"letmein12345":                 "common",
		"Siemens2024!!":                "common",
		"simatic-123456":               "common",
		"correcthorsebatterystaple":    "common",
		"correct horse battery staple": "common",
		"qwertyuiop123":                "sequence",
		"changeme12345":                "common",
		"!!!football!!!":               "common",
		"2024-september":               "common",
	}
	for pw, why := range bad {
		err := p.CheckPassword("alice", pw)
		if err == nil {
			t.Errorf("%q accepted, want refused (%s)", pw, why)
			continue
		}
		wantErr(t, err, ErrWeakPassword, pw)
		if !strings.Contains(err.Error(), why) {
			t.Errorf("%q: error %q does not mention %q", pw, err, why)
		}
		if len(pw) >= 4 && strings.Contains(err.Error(), pw) {
			t.Errorf("error %q contains the password", err)
		}
	}
}

func TestPasswordPolicyMinLengthCountsCharacters(t *testing.T) {
	p := DefaultPolicy()
	// 11 characters but 33 bytes: too short.
	err := p.CheckPassword("alice", "青い提灯が揺れる夜の港")
	wantErr(t, err, ErrWeakPassword, "11 characters")
	p.MinLength = 16
	wantErr(t, p.CheckPassword("alice", "violet harbor 4"), ErrWeakPassword, "below a raised minimum")
}

func TestCommonListLoaded(t *testing.T) {
	check(t, isCommon("password") && isCommon("123456") && isCommon("zonegate") && isCommon("siemens"), "list misses basics")
	check(t, !isCommon("# common passwords"), "comment lines are entries")
	check(t, len(commonSet) > 2000, "list has only %d entries", len(commonSet))
	for w := range commonSet {
		if w != strings.ToLower(w) || strings.TrimSpace(w) != w {
			t.Fatalf("list entry %q is not lower case and trimmed", w)
		}
	}
}

func TestPolicyValidate(t *testing.T) {
	must(t, DefaultPolicy().Validate())
	must(t, Policy{}.withDefaults().Validate())
	eq(t, Policy{}.withDefaults().MinLength, 12, "default min length")
	for name, f := range map[string]func(*Policy){
		"min 6":       func(p *Policy) { p.MinLength = 6 },
		"max < min":   func(p *Policy) { p.MinLength = 100; p.MaxLength = 80 },
		"max huge":    func(p *Policy) { p.MaxLength = 1 << 20 },
		"no hashing":  func(p *Policy) { p.MaxConcurrentHashes = -1 },
		"bad argon2":  func(p *Policy) { p.Argon2.Memory = 1 },
		"history 100": func(p *Policy) { p.History = 100 },
		"lifetime 1s": func(p *Policy) { p.SessionLifetime = time.Second },
		"lockout 0s":  func(p *Policy) { p.LockoutWindow = -time.Second },
	} {
		p := DefaultPolicy()
		f(&p)
		check(t, p.withDefaults().Validate() != nil, "%s accepted", name)
	}
}
