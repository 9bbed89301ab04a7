package auth

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zonegate/zonegate/gateway/internal/atomicfile"
)

var errSimulatedCrash = errors.New("simulated crash before rename")

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

func contains(s, sub string) bool { return strings.Contains(s, sub) }

func TestAccountFileModeAndFormat(t *testing.T) {
	e := newEnv(t, true)
	e.addUser("alice", RoleEngineer, pwAlice)
	st, err := os.Stat(e.path)
	must(t, err)
	eq(t, st.Mode().Perm(), os.FileMode(0o600), "file mode")
	dst, err := os.Stat(filepath.Dir(e.path))
	must(t, err)
	eq(t, dst.Mode().Perm(), os.FileMode(0o700), "created directory mode")

	s := string(e.fileBytes())
	for _, want := range []string{`"format": "zonegate-accounts"`, `"version": 1`, `"name": "alice"`, `"role": "engineer"`,
		`"password_hash": "$argon2id$v=19$m=64,t=1,p=1$`} {
		check(t, contains(s, want), "file lacks %s:\n%s", want, s)
	}
	check(t, !contains(s, pwAlice) && !contains(s, pwAdmin), "password in clear in the file")
	check(t, strings.Index(s, `"alice"`) < strings.Index(s, `"root_admin"`), "accounts not sorted")
	// Round trip through the decoder.
	as, err := decodeAccounts(e.fileBytes())
	must(t, err)
	eq(t, len(as), 2, "decoded accounts")
}

// A crash after the temporary file is written but before the rename
// leaves the old file intact; the next Open ignores and removes the
// leftover.
func TestAtomicWriteCrashBeforeRename(t *testing.T) {
	e := newEnv(t, true)
	before := e.fileBytes()
	var leftover string
	e.m.beforeRename = func(tmp string) error {
		leftover = tmp
		// The temporary file is complete and private at this point.
		st, err := os.Stat(tmp)
		must(t, err)
		eq(t, st.Mode().Perm(), os.FileMode(0o600), "temporary file mode")
		data, err := os.ReadFile(tmp)
		must(t, err)
		check(t, contains(string(data), `"alice"`), "temporary file incomplete")
		// Simulate a crash: keep a copy as if the process died here.
		must(t, os.WriteFile(tmp+".keep", data[:len(data)/2], 0o600))
		return errSimulatedCrash
	}
	err := e.m.AddUser(e.ctx, e.admin, "alice", RoleOperator, pwAlice, false)
	wantErr(t, err, ErrStorage, "add")
	check(t, string(e.fileBytes()) == string(before), "account file changed by an aborted write")
	check(t, !fileExists(leftover), "temporary file not removed after the error")

	// A half-written temporary file from a real crash is ignored at Open.
	half := filepath.Join(filepath.Dir(e.path), atomicfile.TempName("accounts.json")+"123456")
	must(t, os.Rename(leftover+".keep", half))
	m2 := e.reopen()
	check(t, m2.lookup("root_admin") != nil && m2.lookup("alice") == nil, "reopen after crash")
	check(t, !fileExists(half), "stale temporary file left behind")

	// And the next write works.
	e.m.beforeRename = nil
	e.addUser("alice", RoleOperator, pwAlice)
	st, err := os.Stat(e.path)
	must(t, err)
	eq(t, st.Mode().Perm(), os.FileMode(0o600), "mode after rewrite")
	entries, err := os.ReadDir(filepath.Dir(e.path))
	must(t, err)
	eq(t, len(entries), 1, "files in the directory")
}

func TestCorruptFileIsAnError(t *testing.T) {
	e := newEnv(t, true)
	good := e.fileBytes()
	cases := map[string]string{
		"truncated":       string(good[:len(good)/2]),
		"empty":           "",
		"not json":        "hello",
		"wrong format":    strings.Replace(string(good), "zonegate-accounts", "something-else", 1),
		"newer version":   strings.Replace(string(good), `"version": 1`, `"version": 2`, 1),
		"unknown field":   strings.Replace(string(good), `"epoch"`, `"mfa_secret": "x", "epoch"`, 1),
		"bad role":        strings.Replace(string(good), `"role": "admin"`, `"role": "god"`, 1),
		"bad hash":        strings.Replace(string(good), "$argon2id$v=19$", "$argon2i$v=19$", 1),
		"bad name":        strings.Replace(string(good), `"name": "root_admin"`, `"name": "Root Admin"`, 1),
		"trailing data":   string(good) + "{}",
		"duplicate user":  duplicateAccount(t, good),
		"null account":    strings.Replace(string(good), `"accounts": [`, `"accounts": [null,`, 1),
		"bad id":          strings.Replace(string(good), `"id": "`, `"id": "zz`, 1),
		"huge hash param": strings.Replace(string(good), "m=64,", "m=4194304,", 1),
	}
	for name, content := range cases {
		must(t, os.WriteFile(e.path, []byte(content), 0o600))
		_, err := Open(Options{Path: e.path, Sink: e.sink, Policy: fastPolicy()})
		wantErr(t, err, ErrCorrupt, name)
		check(t, contains(err.Error(), "restore it from a backup") && contains(err.Error(), "never replaces"),
			"%s: error does not say what to do: %v", name, err)
		got, _ := os.ReadFile(e.path)
		check(t, string(got) == content, "%s: corrupt file was modified", name)
	}
}

func duplicateAccount(t *testing.T, good []byte) string {
	as, err := decodeAccounts(good)
	must(t, err)
	a := as["root_admin"].clone()
	a.ID = strings.Repeat("ab", 16)
	f := fileFormat{Format: fileFormatName, Version: fileFormatVersion, Accounts: []*account{as["root_admin"], a}}
	data, err := json.MarshalIndent(f, "", "  ")
	must(t, err)
	return string(data)
}

func TestFileReadableByOthersIsRefused(t *testing.T) {
	e := newEnv(t, true)
	must(t, os.Chmod(e.path, 0o644))
	_, err := Open(Options{Path: e.path, Sink: e.sink, Policy: fastPolicy()})
	wantErr(t, err, ErrStorage, "mode 0644")
	check(t, contains(err.Error(), "chmod 600"), "error does not say what to do: %v", err)
}

func TestOpenOptions(t *testing.T) {
	_, err := Open(Options{Path: filepath.Join(t.TempDir(), "a.json")})
	check(t, err != nil && contains(err.Error(), "sink"), "no sink accepted: %v", err)
	_, err = Open(Options{Sink: &recSink{}})
	check(t, err != nil, "no path accepted")
	p := fastPolicy()
	p.MinLength = 4
	_, err = Open(Options{Path: filepath.Join(t.TempDir(), "a.json"), Sink: &recSink{}, Policy: p})
	check(t, err != nil && contains(err.Error(), "at least 8"), "weak policy accepted: %v", err)
}
