// Package versions keeps the zone model versions of a gateway in its state
// directory: every pushed or imported model with who, when and why, the
// state of each version (running, pending, superseded, rolled back,
// rejected), and the small state file that says which version runs,
// which change waits for confirmation and whether island mode is on.
// Every file is written atomically: a crash leaves the old or the new
// content.
package versions

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/zonegate/zonegate/gateway/internal/atomicfile"
	"github.com/zonegate/zonegate/gateway/zone"
)

// State is what must survive a restart besides the versions.
type State struct {
	Current int
	Pending *zone.Pending
	Island  bool
	// ModelFile is the digest of the settings' model file when it was last
	// imported: a file edited since then is applied at the next start.
	ModelFile string
}

// Store keeps model versions, the running version, a pending change and
// the island flag in a directory. It does no locking: its user
// serialises the changes.
type Store struct {
	dir  string
	keep int
}

// Open creates the state directory if needed; keep is how many versions
// Prune leaves.
func Open(dir string, keep int) (*Store, error) {
	if err := os.MkdirAll(filepath.Join(dir, "models"), 0o700); err != nil {
		return nil, fmt.Errorf("create state directory: %w", err)
	}
	return &Store{dir: dir, keep: keep}, nil
}

// SetKeep changes how many versions Prune leaves.
func (s *Store) SetKeep(keep int) { s.keep = keep }

// ModelPath is the file of version n's model text.
func (s *Store) ModelPath(n int) string {
	return filepath.Join(s.dir, "models", fmt.Sprintf("v%06d.yaml", n))
}
func (s *Store) metaPath(n int) string {
	return filepath.Join(s.dir, "models", fmt.Sprintf("v%06d.json", n))
}
func (s *Store) statePath() string { return filepath.Join(s.dir, "state.json") }

// LoadState reads the state file; the zero State when there is none.
func (s *Store) LoadState() (State, error) {
	var f stateFile
	b, err := os.ReadFile(s.statePath())
	if errors.Is(err, os.ErrNotExist) {
		return State{}, nil
	}
	if err != nil {
		return State{}, fmt.Errorf("read %s: %w", s.statePath(), err)
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return State{}, fmt.Errorf("%s is corrupt (%v): restore it from a backup or remove it to start from the model file", s.statePath(), err)
	}
	return f.state(), nil
}

// SaveState writes the state file.
func (s *Store) SaveState(st State) error {
	b, err := json.MarshalIndent(stateFileOf(st), "", "  ")
	if err != nil {
		return fmt.Errorf("encode the state: %w", err)
	}
	return writeFileAtomic(s.statePath(), b, 0o600)
}

// Add stores a new version and returns its number.
func (s *Store) Add(model []byte, v zone.ModelVersion) (zone.ModelVersion, error) {
	vs, err := s.Versions()
	if err != nil {
		return v, err
	}
	v.Number = 1
	if len(vs) > 0 {
		v.Number = vs[len(vs)-1].Number + 1
	}
	if err := writeFileAtomic(s.ModelPath(v.Number), model, 0o600); err != nil {
		return v, err
	}
	return v, s.saveMeta(v)
}

func (s *Store) saveMeta(v zone.ModelVersion) error {
	b, err := json.MarshalIndent(metaFile(v), "", "  ")
	if err != nil {
		return fmt.Errorf("encode model version %d: %w", v.Number, err)
	}
	return writeFileAtomic(s.metaPath(v.Number), b, 0o600)
}

// SetState changes the state of version n and nothing else.
func (s *Store) SetState(n int, state string) error {
	v, err := s.Meta(n)
	if err != nil {
		return err
	}
	v.State = state
	return s.saveMeta(v)
}

// Meta returns version n without its model.
func (s *Store) Meta(n int) (zone.ModelVersion, error) {
	var v metaFile
	b, err := os.ReadFile(s.metaPath(n))
	if err != nil {
		return zone.ModelVersion{}, fmt.Errorf("model version %d is not kept (see `zonegate history`): %w", n, err)
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return zone.ModelVersion{}, fmt.Errorf("%s is corrupt (%v): restore it from a backup or remove it (the version is then forgotten)", s.metaPath(n), err)
	}
	return zone.ModelVersion(v), nil
}

// Model returns version n's model text.
func (s *Store) Model(n int) ([]byte, error) {
	b, err := os.ReadFile(s.ModelPath(n))
	if err != nil {
		return nil, fmt.Errorf("model version %d is not kept (see `zonegate history`): %w", n, err)
	}
	return b, nil
}

// Versions lists the kept versions, oldest first.
func (s *Store) Versions() ([]zone.ModelVersion, error) {
	entries, err := os.ReadDir(filepath.Join(s.dir, "models"))
	if err != nil {
		return nil, fmt.Errorf("list model versions: %w", err)
	}
	var out []zone.ModelVersion
	for _, e := range entries {
		var n int
		if _, err := fmt.Sscanf(e.Name(), "v%06d.json", &n); err != nil || !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		v, err := s.Meta(n)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Number < out[j].Number })
	return out, nil
}

// Prune removes the oldest versions beyond keep, never those in use.
func (s *Store) Prune(inUse ...int) error {
	vs, err := s.Versions()
	if err != nil {
		return err
	}
	used := map[int]bool{}
	for _, n := range inUse {
		used[n] = true
	}
	for i := 0; i < len(vs)-s.keep; i++ {
		if used[vs[i].Number] {
			continue
		}
		if err := os.Remove(s.ModelPath(vs[i].Number)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		if err := os.Remove(s.metaPath(vs[i].Number)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return nil
}

// writeFileAtomic writes a file so that a crash leaves the old or the new
// content.
func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	return atomicfile.Write(path, data, mode, atomicfile.Options{})
}
