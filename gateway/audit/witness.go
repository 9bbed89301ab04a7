package audit

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// A Witness is what a copy kept off the gateway says about the log: signed
// checkpoints ("record Seq has chain hash Head"), taken from a saved
// checkpoint.json or from a syslog collector's file of exported records.
// Verify with VerifyOptions.Witness fails when the log ends before a
// witnessed record or disagrees with its hash.
//
// # What each layer catches
//
// The log checks itself (no witness needed):
//
//   - every record's chain hash, HMAC (with the key) and every signed
//     checkpoint in the segments (with the public key alone);
//   - each segment header names the previous segment's last record and
//     hash: a missing, replaced or inserted segment in the middle shows;
//   - checkpoint.json must name the newest signed checkpoint found in the
//     segments (one behind is accepted only while the newest checkpoint is
//     the very last record: zonegate crashed between the two writes).
//     Once the log holds a signed checkpoint, a missing checkpoint.json is
//     an error, and an older checkpoint.json (restored from a backup) is an
//     error: both are what removing the newest segment leaves behind;
//   - checkpoint.json naming a record beyond the end of the log (the tail
//     was cut) or with another hash (records were rewritten);
//   - the syslog export cursors in the directory (syslog-*.cursor): a
//     cursor naming a record beyond the end of the log, or with another
//     hash, proves that records which were exported have gone.
//
// What only a copy kept elsewhere catches: whoever can write the directory
// can remove the newest segments together with checkpoint.json and the
// cursors, or put back older copies of all of them, leaving a shorter log
// that is consistent in itself; and root on the gateway can read both keys
// and rewrite and re-sign everything. A witness made before that (the
// checkpoints a syslog collector received, or a checkpoint.json copied off
// the box) shows it: the log ends before the witness's sequence number or
// its record there has another hash. Verify needs the public key kept off
// the gateway (VerifyOptions.PublicKey) to trust the witness's signatures:
// with the key from the log's own directory, an attacker who re-created the
// keys could also have signed a forged witness. Records written after the
// newest witnessed checkpoint are covered by no witness.
type Witness struct {
	// Source names where the checkpoints came from (the file name).
	Source string
	// Checkpoints are the checkpoint statements found in the source, in the
	// order read. Verify checks their signatures and ignores those not
	// signed with the log's key (a collector file may hold other gateways).
	Checkpoints []Statement
	// Messages is the number of exported audit messages read (0 for a
	// checkpoint.json).
	Messages int
}

// LoadWitness reads a witness from path: either a copy of checkpoint.json
// or a syslog collector's file holding the RFC 5424 messages of the export
// (one per line, as rsyslog writes %rawmsg% or RSYSLOG_SyslogProtocol23Format,
// or octet-counted as sent). The file must keep the structured data: the
// traditional file formats drop it. Messages of other gateways may be in
// the same file; Verify uses only checkpoints signed with the log's key.
func LoadWitness(path string) (*Witness, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("witness: %w", err)
	}
	w, err := ParseWitness(filepath.Base(path), b)
	if err != nil {
		return nil, fmt.Errorf("witness %s: %w", path, err)
	}
	return w, nil
}

// ParseWitness is LoadWitness for data already read; name is its source.
func ParseWitness(name string, data []byte) (*Witness, error) {
	w := &Witness{Source: name}
	if t := bytes.TrimSpace(data); len(t) > 0 && t[0] == '{' {
		var s Statement
		if err := json.Unmarshal(t, &s); err != nil {
			return nil, fmt.Errorf("not a checkpoint.json: %v", err)
		}
		if s.NextSegment > 0 {
			return nil, errors.New("this is a prune statement (pruned.json), not a checkpoint: pass a copy of checkpoint.json or a collector's file")
		}
		if s.Seq == 0 || s.Head == "" || s.Signature == "" {
			return nil, errors.New("not a checkpoint.json: seq, head or signature missing")
		}
		w.Checkpoints = append(w.Checkpoints, s)
		return w, nil
	}
	for rest := data; ; {
		i := bytes.Index(rest, []byte("[zonegate@"))
		if i < 0 {
			break
		}
		rest = rest[i:]
		fields, n, err := parseSDElement(rest)
		if err != nil {
			rest = rest[1:] // not an element of ours after all
			continue
		}
		rest = rest[n:]
		var details map[string]string
		if len(rest) > 0 && rest[0] == '[' && bytes.HasPrefix(rest, []byte("[zgdetails@")) {
			if d, n, err := parseSDElement(rest); err == nil {
				details, rest = d, rest[n:]
			}
		}
		w.Messages++
		if fields["category"] != string(CategoryAudit) || fields["action"] != string(ActionCheckpoint) {
			continue
		}
		s, err := statementFromDetails(fields["gateway"], details)
		if err != nil || s.NextSegment > 0 {
			continue
		}
		w.Checkpoints = append(w.Checkpoints, s)
	}
	if w.Messages == 0 {
		return nil, errors.New("neither a checkpoint.json nor a file of exported zonegate syslog messages (no [zonegate@… structured data found)")
	}
	if len(w.Checkpoints) == 0 {
		return nil, fmt.Errorf("%d exported messages but no checkpoint among them: the collector has not received one yet", w.Messages)
	}
	return w, nil
}

// parseSDElement parses one RFC 5424 SD-ELEMENT at the start of b
// ("[ID name="value" ...]") and returns its parameters and length.
func parseSDElement(b []byte) (map[string]string, int, error) {
	bad := errors.New("malformed structured data")
	if len(b) == 0 || b[0] != '[' {
		return nil, 0, bad
	}
	i := 1
	for i < len(b) && b[i] != ' ' && b[i] != ']' {
		i++
	}
	params := map[string]string{}
	var v strings.Builder
	for i < len(b) {
		switch b[i] {
		case ']':
			return params, i + 1, nil
		case ' ':
			i++
			if i < len(b) && b[i] == ']' {
				continue
			}
		default:
			return nil, 0, bad
		}
		j := i
		for j < len(b) && b[j] != '=' && b[j] != ' ' && b[j] != ']' && b[j] != '"' {
			j++
		}
		if j+1 >= len(b) || b[j] != '=' || b[j+1] != '"' || j == i {
			return nil, 0, bad
		}
		name := string(b[i:j])
		v.Reset()
		k := j + 2
		for ; k < len(b) && b[k] != '"'; k++ {
			if b[k] == '\\' && k+1 < len(b) && (b[k+1] == '"' || b[k+1] == '\\' || b[k+1] == ']') {
				k++
			} else if b[k] == '\n' {
				return nil, 0, bad
			}
			v.WriteByte(b[k])
		}
		if k >= len(b) {
			return nil, 0, bad
		}
		params[name] = v.String()
		i = k + 1
	}
	return nil, 0, bad
}

// witnessPoint is a (seq, hash) pair the log must hold, and who says so.
type witnessPoint struct {
	hash [32]byte
	from string
	seen bool
}

// addPoint records that the log must hold record seq with hash h.
func (v *verifier) addPoint(seq uint64, h [32]byte, from string) {
	if v.points == nil {
		v.points = map[uint64]*witnessPoint{}
	}
	if old, ok := v.points[seq]; ok {
		if old.hash != h {
			v.problem(seq, 0, "%s and %s disagree about record %d", old.from, from, seq)
		}
		return
	}
	v.points[seq] = &witnessPoint{hash: h, from: from}
}

// loadWitness adds the validly signed checkpoints of w as points.
func (v *verifier) loadWitness(w *Witness) {
	valid, foreign := 0, 0
	var best uint64
	for i := range w.Checkpoints {
		s := &w.Checkpoints[i]
		h, err := s.verify(v.pub)
		if err != nil {
			foreign++
			continue
		}
		valid++
		best = max(best, s.Seq)
		v.addPoint(s.Seq, h, fmt.Sprintf("the witness %s holds a signed checkpoint over record %d", w.Source, s.Seq))
	}
	v.rep.WitnessSource, v.rep.WitnessSeq = w.Source, best
	if valid == 0 {
		v.problem(0, 0, "witness %s holds %d checkpoints, none signed by key %s: it belongs to another gateway or log, or the public key is wrong",
			w.Source, len(w.Checkpoints), v.rep.PublicKeyID)
		return
	}
	if foreign > 0 {
		v.rep.Warnings = append(v.rep.Warnings, fmt.Sprintf("witness %s: %d checkpoints not signed by key %s were ignored (other gateways or logs)",
			w.Source, foreign, v.rep.PublicKeyID))
	}
}

// loadCursors adds the syslog export cursors found in dir as points: a
// cursor names the last record a collector has received.
func (v *verifier) loadCursors(dir string) {
	names, _ := filepath.Glob(filepath.Join(dir, "syslog-*.cursor"))
	for _, p := range names {
		c, err := readCursor(p)
		if err != nil {
			v.rep.Warnings = append(v.rep.Warnings, "syslog cursor unreadable: "+err.Error())
			continue
		}
		if c.Seq == 0 {
			continue
		}
		v.addPoint(c.Seq, c.Hash, fmt.Sprintf("the syslog cursor %s says record %d was delivered to a collector", filepath.Base(p), c.Seq))
	}
}

// checkPoint compares a record with what the witnesses say about it.
func (v *verifier) checkPoint(fr frame) {
	p, ok := v.points[fr.seq]
	if !ok {
		return
	}
	p.seen = true
	if fr.hash != p.hash {
		v.problem(fr.seq, fr.off, "record %d has chain hash %s…, but %s with chain hash %s…: the log was rewritten (at or before this record)",
			fr.seq, hex.EncodeToString(fr.hash[:4]), p.from, hex.EncodeToString(p.hash[:4]))
	}
}

// checkPointsAfter reports witnessed records the log does not reach.
func (v *verifier) checkPointsAfter(first, last uint64) {
	var far *witnessPoint
	var farSeq uint64
	for seq, p := range v.points {
		switch {
		case p.seen:
		case seq > last:
			if seq > farSeq {
				far, farSeq = p, seq
			}
		case seq < first:
			v.rep.Warnings = append(v.rep.Warnings, fmt.Sprintf("not checked (the log now starts at record %d): %s", first, p.from))
		}
	}
	if far != nil {
		v.problem(last+1, 0, "log truncated: it ends at record %d, but %s: records %d to %d were removed",
			last, far.from, last+1, farSeq)
	}
}
