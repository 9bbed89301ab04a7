package versions

import (
	"time"

	"github.com/zonegate/zonegate/gateway/zone"
)

// The JSON of the files in the state directory. Their keys are a format
// kept across upgrades (they are those the management API used when the
// files were first written): renaming one loses the history of gateways
// in the field.

// metaFile is a version's meta file, models/vNNNNNN.json.
type metaFile struct {
	Number  int       `json:"version"`
	Digest  string    `json:"digest"`
	User    string    `json:"user"`
	Time    time.Time `json:"time"`
	Comment string    `json:"comment,omitempty"`
	State   string    `json:"state"`
}

// stateFile is state.json.
type stateFile struct {
	Current   int          `json:"current"`
	Pending   *pendingFile `json:"pending,omitempty"`
	Island    bool         `json:"island"`
	ModelFile string       `json:"model_file,omitempty"`
}

type pendingFile struct {
	Version  int       `json:"version"`
	Previous int       `json:"previous"`
	Deadline time.Time `json:"deadline"`
	User     string    `json:"user"`
}

func stateFileOf(st State) stateFile {
	f := stateFile{Current: st.Current, Island: st.Island, ModelFile: st.ModelFile}
	if st.Pending != nil {
		p := pendingFile(*st.Pending)
		f.Pending = &p
	}
	return f
}

func (f stateFile) state() State {
	st := State{Current: f.Current, Island: f.Island, ModelFile: f.ModelFile}
	if f.Pending != nil {
		p := zone.Pending(*f.Pending)
		st.Pending = &p
	}
	return st
}
