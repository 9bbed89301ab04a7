package auth

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"fmt"
	"time"

	"golang.org/x/crypto/argon2"
)

// hasher hashes and verifies passwords with argon2id, running at most
// cap(sem) derivations at once so that concurrent logins cannot exhaust
// the gateway's memory.
type hasher struct {
	params Params
	sem    chan struct{}
	wait   time.Duration
	// derive is argon2.IDKey; tests replace it to count concurrent calls.
	derive func(password, salt []byte, p Params) []byte
	// dummy has the current parameters and matches no password: logins of
	// unknown, locked and disabled users are checked against it so that
	// they cost as much as real ones.
	dummy phcHash
}

func argon2id(password, salt []byte, p Params) []byte {
	return argon2.IDKey(password, salt, p.Time, p.Memory, p.Threads, p.KeyLen)
}

func newHasher(p Params, limit int, wait time.Duration) *hasher {
	h := &hasher{params: p, sem: make(chan struct{}, limit), wait: wait, derive: argon2id}
	h.dummy = phcHash{params: p, salt: randomBytes(int(p.SaltLen)), key: randomBytes(int(p.KeyLen))}
	return h
}

// acquire waits for a hashing slot until ctx ends or h.wait has passed.
func (h *hasher) acquire(ctx context.Context) error {
	select {
	case h.sem <- struct{}{}:
		return nil
	default:
	}
	t := time.NewTimer(h.wait)
	defer t.Stop()
	select {
	case h.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%w: %w", ErrBusy, ctx.Err())
	case <-t.C:
		return ErrBusy
	}
}

func (h *hasher) release() { <-h.sem }

func (h *hasher) run(ctx context.Context, password string, ph phcHash) ([]byte, error) {
	if err := h.acquire(ctx); err != nil {
		return nil, err
	}
	defer h.release()
	return h.derive([]byte(password), ph.salt, ph.params), nil
}

// hash returns the PHC string of password with the current parameters and
// a fresh salt.
func (h *hasher) hash(ctx context.Context, password string) (string, error) {
	ph := phcHash{params: h.params, salt: randomBytes(int(h.params.SaltLen))}
	key, err := h.run(ctx, password, ph)
	if err != nil {
		return "", err
	}
	ph.key = key
	return ph.encode(), nil
}

// verify reports whether password matches the PHC string encoded, using
// the parameters stored in it, and whether the hash should be replaced
// because the current parameters differ.
func (h *hasher) verify(ctx context.Context, password, encoded string) (ok, upgrade bool, err error) {
	ph, err := decodePHC(encoded)
	if err != nil {
		return false, false, err
	}
	key, err := h.run(ctx, password, ph)
	if err != nil {
		return false, false, err
	}
	ok = subtle.ConstantTimeCompare(key, ph.key) == 1
	return ok, ok && !ph.params.sameCost(h.params), nil
}

// burn spends the time of one verification and matches nothing.
func (h *hasher) burn(ctx context.Context, password string) error {
	key, err := h.run(ctx, password, h.dummy)
	if err != nil {
		return err
	}
	subtle.ConstantTimeCompare(key, h.dummy.key)
	return nil
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("auth: crypto/rand failed: " + err.Error()) // never happens on Linux (getrandom)
	}
	return b
}
