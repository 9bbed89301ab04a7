package auth

import "fmt"

// Params are argon2id parameters.
type Params struct {
	// Memory in KiB.
	Memory uint32
	// Time is the number of passes over the memory.
	Time uint32
	// Threads is the degree of parallelism (lanes).
	Threads uint8
	// SaltLen is the salt length in bytes for new hashes.
	SaltLen uint32
	// KeyLen is the hash length in bytes for new hashes.
	KeyLen uint32
}

// Bounds on parameters accepted in stored hashes and in the policy. The
// memory bound keeps a doctored account file from making one verification
// allocate more than a small gateway has.
const (
	maxMemoryKiB = 256 << 10 // 256 MiB
	maxTime      = 64
	maxThreads   = 16
	minSaltLen   = 8
	maxSaltLen   = 64
	minKeyLen    = 16
	maxKeyLen    = 64
)

// DefaultParams returns the default argon2id parameters: m=19 MiB, t=2,
// p=1, 16-byte salt, 32-byte hash. This is the first of OWASP's
// equivalent argon2id configurations (Password Storage Cheat Sheet). It is
// chosen for the smallest gateways: with the default of two hashes at a
// time, logins use about 40 MiB at worst, which a 256 MiB board can spare,
// whereas m=64 MiB would need 128 MiB. With one lane, hashing takes a few
// tens of milliseconds on an x86 core and a few hundred on a Cortex-A53.
// Raise them in the Policy on larger hardware: existing hashes keep working
// and are upgraded at the next login.
func DefaultParams() Params {
	return Params{Memory: 19 << 10, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}
}

// Validate checks that p can be used for new hashes.
func (p Params) Validate() error {
	if err := p.validateCost(); err != nil {
		return err
	}
	if p.SaltLen < minSaltLen || p.SaltLen > maxSaltLen {
		return fmt.Errorf("argon2 salt length %d: use %d to %d bytes (16 recommended)", p.SaltLen, minSaltLen, maxSaltLen)
	}
	if p.KeyLen < minKeyLen || p.KeyLen > maxKeyLen {
		return fmt.Errorf("argon2 key length %d: use %d to %d bytes (32 recommended)", p.KeyLen, minKeyLen, maxKeyLen)
	}
	return nil
}

func (p Params) validateCost() error {
	if p.Threads < 1 || p.Threads > maxThreads {
		return fmt.Errorf("argon2 parallelism p=%d: use 1 to %d", p.Threads, maxThreads)
	}
	if p.Time < 1 || p.Time > maxTime {
		return fmt.Errorf("argon2 time t=%d: use 1 to %d", p.Time, maxTime)
	}
	if p.Memory < 8*uint32(p.Threads) || p.Memory > maxMemoryKiB {
		return fmt.Errorf("argon2 memory m=%d KiB: use %d to %d KiB", p.Memory, 8*uint32(p.Threads), maxMemoryKiB)
	}
	return nil
}

// sameCost reports whether a hash made with p needs no upgrade to q.
func (p Params) sameCost(q Params) bool {
	return p.Memory == q.Memory && p.Time == q.Time && p.Threads == q.Threads &&
		p.SaltLen == q.SaltLen && p.KeyLen == q.KeyLen
}
