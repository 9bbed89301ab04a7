package atomicfile

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestWrite(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "state.json")
	if err := Write(p, []byte("old"), 0o600, Options{}); err != nil {
		t.Fatal(err)
	}
	crash := errors.New("crash")
	err := Write(p, []byte("new"), 0o600, Options{BeforeRename: func(tmp string) error {
		if b, _ := os.ReadFile(tmp); string(b) != "new" {
			t.Errorf("temporary file holds %q before the rename", b)
		}
		return crash
	}})
	if !errors.Is(err, crash) {
		t.Fatalf("error %v, want the hook's", err)
	}
	if b, _ := os.ReadFile(p); string(b) != "old" {
		t.Fatalf("after an aborted write the file holds %q, want the old content", b)
	}
	if err := Write(p, []byte("new"), 0o640, Options{}); err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(p)
	if b, _ := os.ReadFile(p); string(b) != "new" || st.Mode().Perm() != 0o640 {
		t.Fatalf("file holds %q with mode %v", b, st.Mode().Perm())
	}
	stale := filepath.Join(dir, TempName("state.json")+"123")
	if err := os.WriteFile(stale, []byte("half"), 0o600); err != nil {
		t.Fatal(err)
	}
	RemoveStale(p)
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Error("a stale temporary file was not removed")
	}
	if _, err := os.Stat(p); err != nil {
		t.Error("RemoveStale removed the file itself")
	}
	if err := Write(filepath.Join(dir, "missing", "x"), nil, 0o600, Options{}); err == nil {
		t.Error("writing into a missing directory succeeded")
	}
}
