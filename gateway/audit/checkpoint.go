package audit

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
)

// State files next to the segments.
const (
	checkpointFile = "checkpoint.json" // latest signed checkpoint
	prunedFile     = "pruned.json"     // signed statement of where the log starts
)

// Statement is a signed claim about the log: "the record with sequence Seq
// has chain hash Head". A checkpoint statement is written periodically; a
// prune statement (NextSegment > 0) says that every segment before
// NextSegment was removed on purpose and the log now continues from Seq.
type Statement struct {
	Gateway     string `json:"gateway"`
	Seq         uint64 `json:"seq"`
	Head        string `json:"head"`
	NextSegment uint64 `json:"next_segment,omitempty"`
	Key         string `json:"key"`
	Signature   string `json:"signature"`
	Time        string `json:"time"`
}

func (s *Statement) message() []byte {
	kind := "checkpoint"
	if s.NextSegment > 0 {
		kind = "prune"
	}
	m := "zonegate-audit-" + kind + "-v1\n" + s.Gateway + "\n" + strconv.FormatUint(s.Seq, 10) + "\n" + s.Head + "\n"
	if s.NextSegment > 0 {
		m += strconv.FormatUint(s.NextSegment, 10) + "\n"
	}
	return []byte(m)
}

func signStatement(s *Statement, priv ed25519.PrivateKey) {
	s.Key = KeyID(priv.Public().(ed25519.PublicKey))
	s.Signature = base64.StdEncoding.EncodeToString(ed25519.Sign(priv, s.message()))
}

// verify checks the signature and returns the head hash.
func (s *Statement) verify(pub ed25519.PublicKey) ([32]byte, error) {
	var h [32]byte
	sig, err := base64.StdEncoding.DecodeString(s.Signature)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return h, errors.New("malformed signature")
	}
	if !ed25519.Verify(pub, s.message(), sig) {
		if s.Key != KeyID(pub) {
			return h, fmt.Errorf("signed by key %s, not by the given public key %s", s.Key, KeyID(pub))
		}
		return h, errors.New("bad signature")
	}
	b, err := hex.DecodeString(s.Head)
	if err != nil || len(b) != 32 {
		return h, errors.New("malformed head hash")
	}
	copy(h[:], b)
	return h, nil
}

// details renders the statement as record details.
func (s *Statement) details(reason string) map[string]string {
	d := map[string]string{
		"seq": strconv.FormatUint(s.Seq, 10), "head": s.Head, "key": s.Key, "signature": s.Signature,
		"signed_time": s.Time,
	}
	if s.NextSegment > 0 {
		d["next_segment"] = strconv.FormatUint(s.NextSegment, 10)
	}
	if reason != "" {
		d[DetailReason] = reason
	}
	return d
}

// statementFromDetails is the inverse of details.
func statementFromDetails(gateway string, d map[string]string) (Statement, error) {
	seq, err := strconv.ParseUint(d["seq"], 10, 64)
	if err != nil {
		return Statement{}, errors.New("checkpoint without a sequence number")
	}
	s := Statement{Gateway: gateway, Seq: seq, Head: d["head"], Key: d["key"], Signature: d["signature"], Time: d["signed_time"]}
	if v, ok := d["next_segment"]; ok {
		if s.NextSegment, err = strconv.ParseUint(v, 10, 64); err != nil {
			return Statement{}, errors.New("prune statement with a bad segment number")
		}
	}
	return s, nil
}

// readStatement reads a state file; (nil, nil) if it does not exist.
func readStatement(path string) (*Statement, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var s Statement
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("%s: %v", filepath.Base(path), err)
	}
	return &s, nil
}

func writeStatement(path string, s *Statement) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(path, append(b, '\n'), 0o644)
}
