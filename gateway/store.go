package gateway

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/zonegate/zonegate/gateway/api"
	"github.com/zonegate/zonegate/gateway/internal/atomicfile"
)

// ModelVersion is one model version kept in the state directory; its
// JSON form is the API's (history, confirm) and the version's meta file.
type ModelVersion = api.ModelVersion

// Pending is a pushed model that undoes itself unless confirmed in time.
type Pending = api.Pending

// persistentState is what must survive a restart besides the versions.
type persistentState struct {
	Current int      `json:"current"`
	Pending *Pending `json:"pending,omitempty"`
	Island  bool     `json:"island"`
	// ModelFile is the digest of the settings' model file when it was last
	// imported: a file edited since then is applied at the next start.
	ModelFile string `json:"model_file,omitempty"`
}

// store keeps model versions, the running version, a pending change and
// the island flag in a directory. Every file is written atomically.
type store struct {
	dir  string
	keep int
}

func openStore(dir string, keep int) (*store, error) {
	if err := os.MkdirAll(filepath.Join(dir, "models"), 0o700); err != nil {
		return nil, fmt.Errorf("create state directory: %w", err)
	}
	return &store{dir: dir, keep: keep}, nil
}

func (s *store) modelPath(n int) string {
	return filepath.Join(s.dir, "models", fmt.Sprintf("v%06d.yaml", n))
}
func (s *store) metaPath(n int) string {
	return filepath.Join(s.dir, "models", fmt.Sprintf("v%06d.json", n))
}
func (s *store) statePath() string { return filepath.Join(s.dir, "state.json") }

func (s *store) loadState() (persistentState, error) {
	var st persistentState
	b, err := os.ReadFile(s.statePath())
	if errors.Is(err, os.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return st, fmt.Errorf("read %s: %w", s.statePath(), err)
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, fmt.Errorf("%s is corrupt (%v): restore it from a backup or remove it to start from the model file", s.statePath(), err)
	}
	return st, nil
}

func (s *store) saveState(st persistentState) error {
	b, _ := json.MarshalIndent(st, "", "  ")
	return writeFileAtomic(s.statePath(), b, 0o600)
}

// add stores a new version and returns its number.
func (s *store) add(model []byte, v ModelVersion) (ModelVersion, error) {
	vs, err := s.versions()
	if err != nil {
		return v, err
	}
	v.Number = 1
	if len(vs) > 0 {
		v.Number = vs[len(vs)-1].Number + 1
	}
	if err := writeFileAtomic(s.modelPath(v.Number), model, 0o600); err != nil {
		return v, err
	}
	return v, s.saveMeta(v)
}

func (s *store) saveMeta(v ModelVersion) error {
	b, _ := json.MarshalIndent(v, "", "  ")
	return writeFileAtomic(s.metaPath(v.Number), b, 0o600)
}

func (s *store) setState(n int, state string) error {
	v, err := s.meta(n)
	if err != nil {
		return err
	}
	v.State = state
	return s.saveMeta(v)
}

func (s *store) meta(n int) (ModelVersion, error) {
	var v ModelVersion
	b, err := os.ReadFile(s.metaPath(n))
	if err != nil {
		return v, fmt.Errorf("model version %d is not kept (see `zonegate history`): %w", n, err)
	}
	return v, json.Unmarshal(b, &v)
}

func (s *store) model(n int) ([]byte, error) {
	b, err := os.ReadFile(s.modelPath(n))
	if err != nil {
		return nil, fmt.Errorf("model version %d is not kept (see `zonegate history`): %w", n, err)
	}
	return b, nil
}

// versions lists the kept versions, oldest first.
func (s *store) versions() ([]ModelVersion, error) {
	entries, err := os.ReadDir(filepath.Join(s.dir, "models"))
	if err != nil {
		return nil, fmt.Errorf("list model versions: %w", err)
	}
	var out []ModelVersion
	for _, e := range entries {
		var n int
		if _, err := fmt.Sscanf(e.Name(), "v%06d.json", &n); err != nil || !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		v, err := s.meta(n)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Number < out[j].Number })
	return out, nil
}

// prune removes the oldest versions beyond keep, never those in use.
func (s *store) prune(inUse ...int) error {
	vs, err := s.versions()
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
		_ = os.Remove(s.modelPath(vs[i].Number))
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
