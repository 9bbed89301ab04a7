package auth

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"
)

// fileFormat is the account file (see the package documentation).
type fileFormat struct {
	Format   string     `json:"format"`
	Version  int        `json:"version"`
	Accounts []*account `json:"accounts"`
}

const (
	fileFormatName    = "zonegate-accounts"
	fileFormatVersion = 1
)

// loadAccounts reads the account file. A missing file is no accounts (a new
// gateway); anything else that is not a valid file is an error that says
// how to recover, and the file is left alone.
func loadAccounts(path string) (accounts, error) {
	st, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return accounts{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrStorage, err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: %s is not a regular file", ErrStorage, path)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%w: %s has mode %04o and may have been read by others: check who could read it, consider resetting all passwords, then run chmod 600 %s",
			ErrStorage, path, st.Mode().Perm(), path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrStorage, err)
	}
	as, err := decodeAccounts(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v; zonegate never replaces it: restore it from a backup, or move it away and create a new first administrator with init (all accounts are then lost)",
			ErrCorrupt, path, err)
	}
	return as, nil
}

func decodeAccounts(data []byte) (accounts, error) {
	var f fileFormat
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("not valid JSON for this version of zonegate: %v", err)
	}
	if dec.More() {
		return nil, errors.New("data after the JSON object")
	}
	if f.Format != fileFormatName {
		return nil, fmt.Errorf("format %q, want %q", f.Format, fileFormatName)
	}
	if f.Version != fileFormatVersion {
		return nil, fmt.Errorf("version %d, this zonegate reads version %d (written by a newer zonegate?)", f.Version, fileFormatVersion)
	}
	as := make(accounts, len(f.Accounts))
	ids := map[string]bool{}
	for i, a := range f.Accounts {
		if a == nil {
			return nil, fmt.Errorf("account %d is null", i+1)
		}
		if err := ValidateUsername(a.Name); err != nil {
			return nil, fmt.Errorf("account %d: %v", i+1, err)
		}
		if as[a.Name] != nil {
			return nil, fmt.Errorf("user %q appears twice", a.Name)
		}
		if len(a.ID) != 32 || strings.Trim(a.ID, "0123456789abcdef") != "" || ids[a.ID] {
			return nil, fmt.Errorf("user %q: id %q is not 32 hex digits or not unique", a.Name, a.ID)
		}
		if !a.Role.Valid() {
			return nil, fmt.Errorf("user %q: no role", a.Name)
		}
		for _, h := range append([]string{a.PasswordHash}, a.PreviousHashes...) {
			if _, err := decodePHC(h); err != nil {
				return nil, fmt.Errorf("user %q: %v", a.Name, err)
			}
		}
		ids[a.ID] = true
		as[a.Name] = a
	}
	return as, nil
}

func encodeAccounts(as accounts) ([]byte, error) {
	f := fileFormat{Format: fileFormatName, Version: fileFormatVersion, Accounts: make([]*account, 0, len(as))}
	for _, a := range as {
		f.Accounts = append(f.Accounts, a)
	}
	slices.SortFunc(f.Accounts, func(a, b *account) int { return strings.Compare(a.Name, b.Name) })
	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(data, '\n'), nil
}
