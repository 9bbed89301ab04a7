package versions

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zonegate/zonegate/gateway/zone"
)

func mgOpenStore(t *testing.T, keep int) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "state"), keep)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func mgAdd(t *testing.T, s *Store, text string, v zone.ModelVersion) zone.ModelVersion {
	t.Helper()
	got, err := s.Add([]byte(text), v)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func mgNumbers(t *testing.T, s *Store) []int {
	t.Helper()
	vs, err := s.Versions()
	if err != nil {
		t.Fatal(err)
	}
	out := []int{}
	for _, v := range vs {
		out = append(out, v.Number)
	}
	return out
}

func TestStoreVersions(t *testing.T) {
	s := mgOpenStore(t, 20)
	if got := mgNumbers(t, s); len(got) != 0 {
		t.Fatalf("a new store lists versions %v", got)
	}
	when := time.Date(2026, 3, 1, 9, 30, 0, 0, time.UTC)
	for i, text := range []string{"model one\n", "model two\n", "model three\n"} {
		v := mgAdd(t, s, text, zone.ModelVersion{Digest: "sha256:" + strings.Repeat("a", i+1), User: "erin", Time: when, Comment: text, State: "pending"})
		if v.Number != i+1 {
			t.Fatalf("version %d got number %d", i+1, v.Number)
		}
	}
	if got := mgNumbers(t, s); !reflect.DeepEqual(got, []int{1, 2, 3}) {
		t.Fatalf("versions %v, want 1 2 3 oldest first", got)
	}
	m, err := s.Meta(2)
	if err != nil {
		t.Fatal(err)
	}
	want := zone.ModelVersion{Number: 2, Digest: "sha256:aa", User: "erin", Time: when, Comment: "model two\n", State: "pending"}
	if !reflect.DeepEqual(m, want) {
		t.Errorf("meta(2) = %+v, want %+v", m, want)
	}
	if text, err := s.Model(3); err != nil || string(text) != "model three\n" {
		t.Errorf("model(3) = %q %v", text, err)
	}
	if err := s.SetState(2, "rolled-back"); err != nil {
		t.Fatal(err)
	}
	if m, _ := s.Meta(2); m.State != "rolled-back" || m.User != "erin" || m.Digest != "sha256:aa" {
		t.Errorf("after setState: %+v; only the state may change", m)
	}
	for _, err := range []error{func() error { _, err := s.Meta(9); return err }(), func() error { _, err := s.Model(9); return err }(), s.SetState(9, "running")} {
		if err == nil || !strings.Contains(err.Error(), "not kept") {
			t.Errorf("a missing version: %v, want an error saying it is not kept", err)
		}
	}
	// Files other than vNNNNNN.json are no versions.
	for _, name := range []string{"README", "v000004.yaml", ".v000005.json.tmp-1", "vxyz.json"} {
		if err := os.WriteFile(filepath.Join(s.dir, "models", name), []byte("{}"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if got := mgNumbers(t, s); !reflect.DeepEqual(got, []int{1, 2, 3}) {
		t.Errorf("with stray files, versions %v, want 1 2 3", got)
	}
	// Numbers keep growing past gaps.
	if err := os.Remove(s.metaPath(2)); err != nil {
		t.Fatal(err)
	}
	if v := mgAdd(t, s, "model four\n", zone.ModelVersion{State: "running"}); v.Number != 4 {
		t.Errorf("after removing version 2 the next number is %d, want 4", v.Number)
	}
	for _, n := range []int{1, 3, 4} {
		for _, p := range []string{s.ModelPath(n), s.metaPath(n)} {
			if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != 0o600 {
				t.Errorf("%s: %v mode %v, want 0600", p, err, fi.Mode().Perm())
			}
		}
	}
}

func TestStorePruneKeepsCurrentAndPrevious(t *testing.T) {
	for _, tc := range []struct {
		name             string
		keep             int
		versions         int
		current, prev    int
		want             []int
		removedStillGone []int
	}{
		{"newest two", 2, 6, 6, 5, []int{5, 6}, []int{1, 2, 3, 4}},
		{"previous is old", 2, 6, 6, 1, []int{1, 5, 6}, []int{2, 3, 4}},
		{"rolled back to an old version", 2, 6, 3, 2, []int{2, 3, 5, 6}, []int{1, 4}},
		{"no previous", 3, 5, 5, 0, []int{3, 4, 5}, []int{1, 2}},
		{"fewer than keep", 5, 3, 3, 2, []int{1, 2, 3}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := mgOpenStore(t, tc.keep)
			for i := 1; i <= tc.versions; i++ {
				mgAdd(t, s, "model\n", zone.ModelVersion{State: "superseded"})
			}
			if err := s.Prune(tc.current, tc.prev); err != nil {
				t.Fatal(err)
			}
			if got := mgNumbers(t, s); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("after prune(%d, %d) with keep %d: versions %v, want %v", tc.current, tc.prev, tc.keep, got, tc.want)
			}
			for _, n := range tc.want {
				if _, err := s.Model(n); err != nil {
					t.Errorf("kept version %d lost its model: %v", n, err)
				}
			}
			for _, n := range tc.removedStillGone {
				for _, p := range []string{s.ModelPath(n), s.metaPath(n)} {
					if _, err := os.Stat(p); !os.IsNotExist(err) {
						t.Errorf("pruned version %d left %s (%v)", n, p, err)
					}
				}
			}
			// A new version never reuses a number.
			if v := mgAdd(t, s, "next\n", zone.ModelVersion{}); v.Number != tc.versions+1 {
				t.Errorf("next version number %d, want %d", v.Number, tc.versions+1)
			}
		})
	}
}

func TestStoreStateFile(t *testing.T) {
	s := mgOpenStore(t, 20)
	st, err := s.LoadState()
	if err != nil || !reflect.DeepEqual(st, State{}) {
		t.Fatalf("a new store's state: %+v %v, want the zero state", st, err)
	}
	want := State{Current: 7, Island: true, ModelFile: "abc",
		Pending: &zone.Pending{Version: 7, Previous: 6, Deadline: time.Date(2026, 3, 1, 9, 32, 0, 0, time.UTC), User: "erin"}}
	if err := s.SaveState(want); err != nil {
		t.Fatal(err)
	}
	got, err := s.LoadState()
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("state round trip: %+v %v, want %+v", got, err, want)
	}
	if fi, err := os.Stat(s.statePath()); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("state file: %v mode %v, want 0600", err, fi.Mode().Perm())
	}
	mgNoTemps(t, s.dir)

	if err := os.WriteFile(s.statePath(), []byte(`{"current": 7, "pend`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := s.LoadState(); err == nil || !strings.Contains(err.Error(), "corrupt") || !strings.Contains(err.Error(), "remove it") {
		t.Errorf("a torn state file: %v, want an error calling it corrupt and saying how to recover", err)
	}
}

// TestStoreStateAtomic saves the state over and over while readers load
// it: every read must see one complete version, never a torn or empty file.
func TestStoreStateAtomic(t *testing.T) {
	s := mgOpenStore(t, 20)
	if err := s.SaveState(State{Current: 1, ModelFile: "x"}); err != nil {
		t.Fatal(err)
	}
	const writes = 150
	var wg sync.WaitGroup
	stop := make(chan struct{})
	errs := make(chan string, 100)
	for r := 0; r < 3; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				b, err := os.ReadFile(s.statePath())
				var st stateFile
				if err == nil {
					err = json.Unmarshal(b, &st)
				}
				if err != nil || st.Current < 1 || st.Current > writes || st.ModelFile != strings.Repeat("x", st.Current) {
					select {
					case errs <- string(b):
					default:
					}
				}
			}
		}()
	}
	for i := 1; i <= writes; i++ {
		if err := s.SaveState(State{Current: i, ModelFile: strings.Repeat("x", i)}); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	close(errs)
	for b := range errs {
		t.Errorf("a reader saw a state file that is no complete version: %q", b)
	}
	mgNoTemps(t, s.dir)
}

func TestWriteFileAtomicFailureLeavesNoTemp(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "state.json")
	// A directory in the way makes the rename fail.
	if err := os.MkdirAll(filepath.Join(target, "child"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := writeFileAtomic(target, []byte("new"), 0o600); err == nil || !strings.Contains(err.Error(), target) {
		t.Errorf("write over a directory: %v, want an error naming %s", err, target)
	}
	mgNoTemps(t, dir)
	if err := writeFileAtomic(filepath.Join(dir, "missing", "x.json"), []byte("x"), 0o600); err == nil {
		t.Error("write into a missing directory succeeded")
	}
	// Overwriting keeps the mode asked for, whatever the old file had.
	p := filepath.Join(dir, "m.json")
	if err := os.WriteFile(p, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := writeFileAtomic(p, []byte("new"), 0o600); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(p); string(b) != "new" {
		t.Errorf("content %q, want new", b)
	}
	if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
	mgNoTemps(t, dir)
}

// mgNoTemps fails when temporary files of writeFileAtomic are left below dir.
func mgNoTemps(t *testing.T, dir string) {
	t.Helper()
	_ = filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && strings.Contains(filepath.Base(p), ".tmp-") {
			t.Errorf("temporary file left behind: %s", p)
		}
		return nil
	})
}

func TestStoreErrorsSayWhatToDo(t *testing.T) {
	s := mgOpenStore(t, 2)
	v := mgAdd(t, s, "model\n", zone.ModelVersion{State: zone.VersionRunning})
	if err := os.WriteFile(s.metaPath(v.Number), []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Meta(v.Number); err == nil || !strings.Contains(err.Error(), "corrupt") || !strings.Contains(err.Error(), "restore it") {
		t.Errorf("a torn version file: %v, want an error calling it corrupt and saying how to recover", err)
	}
	if _, err := s.Versions(); err == nil {
		t.Error("Versions lists a corrupt version without an error")
	}
	if err := s.Prune(); err == nil {
		t.Error("Prune with a corrupt version succeeded")
	}
	if _, err := s.Add([]byte("x"), zone.ModelVersion{}); err == nil {
		t.Error("Add with a corrupt version succeeded")
	}

	s = mgOpenStore(t, 5)
	for i := 0; i < 4; i++ {
		mgAdd(t, s, "model\n", zone.ModelVersion{State: zone.VersionSuperseded})
	}
	s.SetKeep(2)
	if err := s.Prune(4); err != nil {
		t.Fatal(err)
	}
	if got := mgNumbers(t, s); !reflect.DeepEqual(got, []int{3, 4}) {
		t.Errorf("after SetKeep(2) and Prune: versions %v, want 3 4", got)
	}
	// A state directory that cannot be written.
	if err := os.RemoveAll(s.dir); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveState(State{Current: 1}); err == nil {
		t.Error("SaveState into a removed directory succeeded")
	}
	if _, err := s.Versions(); err == nil || !strings.Contains(err.Error(), "list model versions") {
		t.Errorf("Versions of a removed directory: %v", err)
	}
	f := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(f, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(filepath.Join(f, "state"), 2); err == nil || !strings.Contains(err.Error(), "create state directory") {
		t.Errorf("Open below a file: %v", err)
	}
}

// TestStoreFileFormat: the meta and state files keep the JSON keys that
// gateways in the field have on disk; files written by an earlier
// zonegate read back as they were.
func TestStoreFileFormat(t *testing.T) {
	s := mgOpenStore(t, 20)
	when := time.Date(2026, 3, 1, 9, 30, 0, 0, time.UTC)
	if _, err := s.Add([]byte("model\n"), zone.ModelVersion{Digest: "sha256:ab", User: "erin", Time: when, Comment: "why", State: zone.VersionPending}); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveState(State{Current: 1, Island: true, ModelFile: "f0",
		Pending: &zone.Pending{Version: 1, Deadline: when.Add(2 * time.Minute), User: "erin"}}); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{
		s.metaPath(1): `{"version":1,"digest":"sha256:ab","user":"erin","time":"2026-03-01T09:30:00Z","comment":"why","state":"pending"}`,
		s.statePath(): `{"current":1,"pending":{"version":1,"previous":0,"deadline":"2026-03-01T09:32:00Z","user":"erin"},"island":true,"model_file":"f0"}`,
	} {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var got, exp any
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal([]byte(want), &exp); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, exp) {
			t.Errorf("%s:\n%s\nwant the keys of\n%s", filepath.Base(path), b, want)
		}
	}

	// Written by an earlier zonegate: no comment, no pending change.
	if err := os.WriteFile(s.metaPath(2), []byte(`{"version": 2, "digest": "sha256:cd", "user": "zonegate", "time": "2026-03-01T10:00:00Z", "state": "running"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(s.statePath(), []byte(`{"current": 2, "island": false, "model_file": "f1"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	v, err := s.Meta(2)
	if want := (zone.ModelVersion{Number: 2, Digest: "sha256:cd", User: "zonegate", Time: when.Add(30 * time.Minute), State: zone.VersionRunning}); err != nil || v != want {
		t.Errorf("old meta file: %+v %v, want %+v", v, err, want)
	}
	st, err := s.LoadState()
	if want := (State{Current: 2, ModelFile: "f1"}); err != nil || !reflect.DeepEqual(st, want) {
		t.Errorf("old state file: %+v %v, want %+v", st, err, want)
	}
}
