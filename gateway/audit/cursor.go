package audit

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
)

// cursor is the export position: the last record delivered, with its chain
// hash so that a cursor left over from another (re-created) log is noticed.
// The file is one line "SEQ HASH", replaced atomically.
type cursor struct {
	Seq  uint64
	Hash [32]byte
}

func readCursor(path string) (cursor, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return cursor{}, nil
	}
	if err != nil {
		return cursor{}, err
	}
	f := strings.Fields(string(b))
	var c cursor
	if len(f) != 2 {
		return cursor{}, fmt.Errorf("%s: want \"SEQ HASH\"", path)
	}
	if c.Seq, err = strconv.ParseUint(f[0], 10, 64); err != nil {
		return cursor{}, fmt.Errorf("%s: %v", path, err)
	}
	h, err := hex.DecodeString(f[1])
	if err != nil || len(h) != 32 {
		return cursor{}, fmt.Errorf("%s: bad hash", path)
	}
	copy(c.Hash[:], h)
	return c, nil
}

func writeCursor(path string, c cursor) error {
	return writeFileAtomic(path, []byte(strconv.FormatUint(c.Seq, 10)+" "+hex.EncodeToString(c.Hash[:])+"\n"), 0o644)
}
