package firewall

import (
	"errors"
	"fmt"
)

// readConns are the two sockets that read a table: one dumps the rules
// while the other reads everything else.
type readConns struct{ structure, rules *rawConn }

func (t Target) readConns() (readConns, error) {
	s, err := t.rawConn()
	if err != nil {
		return readConns{}, err
	}
	r, err := t.rawConn()
	if err != nil {
		s.Close()
		return readConns{}, err
	}
	return readConns{s, r}, nil
}

func (c readConns) Close() error {
	return errors.Join(c.structure.Close(), c.rules.Close())
}

func (c readConns) current() (Fingerprint, error) {
	k, err := readTable(c.structure, c.rules)
	if errors.Is(err, errNoTable) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return k.fingerprint(), nil
}

// verify compares the table read back with the expected fingerprint and
// sets res.Changed and res.Fingerprint when they are equal.
func verify(res *Result, got Fingerprint, expected func() (Fingerprint, error), flushErr error) error {
	wantFP, err := expected()
	if err != nil {
		return fmt.Errorf("describe the applied ruleset (a zonegate bug; apply again to be sure of the kernel's table): %w", err)
	}
	res.Fingerprint = wantFP
	if !got.Equal(wantFP) {
		return fmt.Errorf("table inet %s in the kernel is not what was applied (flush error: %v); differences:\n%s", TableName, flushErr, wantFP.Diff(got, 20))
	}
	res.Changed = true
	return nil
}
