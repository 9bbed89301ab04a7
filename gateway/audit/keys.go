package audit

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/zonegate/zonegate/gateway/internal/atomicfile"
)

// Key file names inside the key directory (by default DIR/keys).
const (
	hmacKeyFile    = "hmac.key"    // 32 random bytes, hex; mode 0600
	signingKeyFile = "signing.key" // Ed25519 seed, hex; mode 0600
	publicKeyFile  = "signing.pub" // "ed25519:BASE64"; mode 0644
)

// DefaultKeyDir is where Open keeps the keys when Options.KeyDir is empty.
func DefaultKeyDir(dir string) string { return filepath.Join(dir, "keys") }

type keySet struct {
	hmac    []byte
	signing ed25519.PrivateKey
	public  ed25519.PublicKey
}

// loadOrCreateKeys reads the keys, creating them when the directory holds
// none and create is true (a new log).
func loadOrCreateKeys(keyDir string, create bool) (*keySet, error) {
	hk, herr := readHexFile(filepath.Join(keyDir, hmacKeyFile), 32)
	seed, serr := readHexFile(filepath.Join(keyDir, signingKeyFile), ed25519.SeedSize)
	hMissing, sMissing := errors.Is(herr, fs.ErrNotExist), errors.Is(serr, fs.ErrNotExist)
	switch {
	case herr == nil && serr == nil:
	case (hMissing || sMissing) && create:
		// A new log: create both (a crash may have left only one behind).
		return createKeys(keyDir)
	case (hMissing || sMissing) && !create:
		return nil, fmt.Errorf("%w: %s or %s not found in %s although the log has segments: restore the key files from backup, "+
			"or move the log directory aside to start a new log", ErrKeyMissing, hmacKeyFile, signingKeyFile, keyDir)
	case herr != nil:
		return nil, fmt.Errorf("audit HMAC key: %w", herr)
	default:
		return nil, fmt.Errorf("audit signing key: %w", serr)
	}
	priv := ed25519.NewKeyFromSeed(seed)
	ks := &keySet{hmac: hk, signing: priv, public: priv.Public().(ed25519.PublicKey)}
	// Recreate the public key file if it went missing (it holds nothing secret).
	if _, err := os.Stat(filepath.Join(keyDir, publicKeyFile)); errors.Is(err, fs.ErrNotExist) {
		if err := writeFileAtomic(filepath.Join(keyDir, publicKeyFile), []byte(FormatPublicKey(ks.public)+"\n"), 0o644); err != nil {
			return nil, err
		}
	}
	return ks, nil
}

func createKeys(keyDir string) (*keySet, error) {
	if err := os.MkdirAll(keyDir, 0o700); err != nil {
		return nil, fmt.Errorf("audit: create key directory: %w", err)
	}
	hk := make([]byte, 32)
	if _, err := rand.Read(hk); err != nil {
		return nil, err
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	files := []struct {
		name string
		data []byte
		mode os.FileMode
	}{
		{hmacKeyFile, []byte(hex.EncodeToString(hk) + "\n"), 0o600},
		{signingKeyFile, []byte(hex.EncodeToString(priv.Seed()) + "\n"), 0o600},
		{publicKeyFile, []byte(FormatPublicKey(pub) + "\n"), 0o644},
	}
	for _, f := range files {
		if err := writeFileAtomic(filepath.Join(keyDir, f.name), f.data, f.mode); err != nil {
			return nil, fmt.Errorf("audit: write key: %w", err)
		}
	}
	return &keySet{hmac: hk, signing: priv, public: pub}, nil
}

func readHexFile(path string, size int) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	k, err := hex.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(k) != size {
		return nil, fmt.Errorf("%s: want %d bytes as hex", path, size)
	}
	return k, nil
}

// LoadHMACKey reads the HMAC key from a key directory, for Verify.
func LoadHMACKey(keyDir string) ([]byte, error) {
	return readHexFile(filepath.Join(keyDir, hmacKeyFile), 32)
}

// LoadPublicKey reads the Ed25519 public key from a key directory (the
// public key file, or else derived from the signing key).
func LoadPublicKey(keyDir string) (ed25519.PublicKey, error) {
	b, err := os.ReadFile(filepath.Join(keyDir, publicKeyFile))
	if err == nil {
		return ParsePublicKey(b)
	}
	seed, serr := readHexFile(filepath.Join(keyDir, signingKeyFile), ed25519.SeedSize)
	if serr != nil {
		return nil, fmt.Errorf("no audit public key in %s: %w", keyDir, err)
	}
	return ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey), nil
}

// FormatPublicKey renders a public key as "ed25519:BASE64", the format that
// `zonegate audit key` prints and ParsePublicKey reads.
func FormatPublicKey(pub ed25519.PublicKey) string {
	return "ed25519:" + base64.StdEncoding.EncodeToString(pub)
}

// ParsePublicKey reads a public key written by FormatPublicKey; it also
// accepts bare base64, 64 hex digits or the 32 raw bytes.
func ParsePublicKey(b []byte) (ed25519.PublicKey, error) {
	if len(b) == ed25519.PublicKeySize {
		return ed25519.PublicKey(bytes.Clone(b)), nil
	}
	s := strings.TrimSpace(string(b))
	s = strings.TrimPrefix(s, "ed25519:")
	if k, err := hex.DecodeString(s); err == nil && len(k) == ed25519.PublicKeySize {
		return k, nil
	}
	if k, err := base64.StdEncoding.DecodeString(s); err == nil && len(k) == ed25519.PublicKeySize {
		return k, nil
	}
	return nil, errors.New("not an Ed25519 public key: want \"ed25519:BASE64\" as printed by `zonegate audit key`")
}

// KeyID is a short fingerprint of a public key, shown in checkpoints.
func KeyID(pub ed25519.PublicKey) string {
	s := sha256.Sum256(pub)
	return hex.EncodeToString(s[:8])
}

// hmacKeyID names an HMAC key without revealing it.
func hmacKeyID(k []byte) string {
	h := sha256.New()
	h.Write([]byte("zonegate-audit-hmac-id\x00"))
	h.Write(k)
	return hex.EncodeToString(h.Sum(nil)[:8])
}

// writeFileAtomic writes data to path through a temporary file, fsync and
// rename, then syncs the directory.
func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	return atomicfile.Write(path, data, mode, atomicfile.Options{})
}

func syncDir(dir string) error { return atomicfile.SyncDir(dir) }
