package auth

import (
	"context"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestPHCRoundTrip(t *testing.T) {
	h := newHasher(fastParams, 2, time.Second)
	enc, err := h.hash(context.Background(), "correct horse")
	must(t, err)
	check(t, strings.HasPrefix(enc, "$argon2id$v=19$m=64,t=1,p=1$"), "encoding %q", enc)
	dec, err := decodePHC(enc)
	must(t, err)
	eq(t, dec.params, fastParams, "params")
	eq(t, dec.encode(), enc, "re-encoding")

	ok, upgrade, err := h.verify(context.Background(), "correct horse", enc)
	must(t, err)
	check(t, ok && !upgrade, "right password: ok=%v upgrade=%v", ok, upgrade)
	ok, _, err = h.verify(context.Background(), "correct horsE", enc)
	must(t, err)
	check(t, !ok, "wrong password accepted")

	// Same password, fresh salt, different hash.
	enc2, err := h.hash(context.Background(), "correct horse")
	must(t, err)
	check(t, enc2 != enc, "two hashes of one password are equal: salt not random")
}

// A known answer: the hash is computed with the parameters stored in the
// string, not the hasher's, and matches a value computed independently of
// decodePHC.
func TestPHCVerifyUsesStoredParams(t *testing.T) {
	stored := Params{Memory: 128, Time: 2, Threads: 2, SaltLen: 8, KeyLen: 16}
	salt := []byte("saltsalt")
	key := argon2id([]byte("pw"), salt, stored)
	enc := phcHash{params: stored, salt: salt, key: key}.encode()
	eq(t, enc, "$argon2id$v=19$m=128,t=2,p=2$c2FsdHNhbHQ$"+b64.EncodeToString(key), "encoding")

	h := newHasher(fastParams, 1, time.Second) // other current parameters
	ok, upgrade, err := h.verify(context.Background(), "pw", enc)
	must(t, err)
	check(t, ok, "hash with other parameters did not verify")
	check(t, upgrade, "hash with other parameters not flagged for upgrade")
}

func TestPHCRejectsMalformed(t *testing.T) {
	good := phcHash{params: fastParams, salt: []byte("0123456789abcdef"), key: make([]byte, 32)}.encode()
	_, err := decodePHC(good)
	must(t, err)
	salt, key := b64.EncodeToString([]byte("0123456789abcdef")), b64.EncodeToString(make([]byte, 32))
	bad := map[string]string{
		"empty":             "",
		"no leading $":      strings.TrimPrefix(good, "$"),
		"argon2i":           "$argon2i$v=19$m=64,t=1,p=1$" + salt + "$" + key,
		"argon2d":           "$argon2d$v=19$m=64,t=1,p=1$" + salt + "$" + key,
		"bcrypt":            "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW",
		"version 16":        "$argon2id$v=16$m=64,t=1,p=1$" + salt + "$" + key,
		"no version":        "$argon2id$m=64,t=1,p=1$" + salt + "$" + key,
		"param order":       "$argon2id$v=19$t=1,m=64,p=1$" + salt + "$" + key,
		"missing p":         "$argon2id$v=19$m=64,t=1$" + salt + "$" + key,
		"extra param":       "$argon2id$v=19$m=64,t=1,p=1,k=2$" + salt + "$" + key,
		"leading zero":      "$argon2id$v=19$m=064,t=1,p=1$" + salt + "$" + key,
		"plus sign":         "$argon2id$v=19$m=+64,t=1,p=1$" + salt + "$" + key,
		"negative":          "$argon2id$v=19$m=-64,t=1,p=1$" + salt + "$" + key,
		"t=0":               "$argon2id$v=19$m=64,t=0,p=1$" + salt + "$" + key,
		"p=0":               "$argon2id$v=19$m=64,t=1,p=0$" + salt + "$" + key,
		"p=256":             "$argon2id$v=19$m=64,t=1,p=256$" + salt + "$" + key,
		"m below 8p":        "$argon2id$v=19$m=15,t=1,p=2$" + salt + "$" + key,
		"m 4 GiB":           "$argon2id$v=19$m=4194304,t=1,p=1$" + salt + "$" + key,
		"m overflow":        "$argon2id$v=19$m=99999999999,t=1,p=1$" + salt + "$" + key,
		"t huge":            "$argon2id$v=19$m=64,t=1000000,p=1$" + salt + "$" + key,
		"padded salt":       "$argon2id$v=19$m=64,t=1,p=1$" + salt + "==$" + key,
		"bad base64":        "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + key[:10] + "*" + key[11:],
		"short salt":        "$argon2id$v=19$m=64,t=1,p=1$c2FsdA$" + key,
		"short hash":        "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$AAAAAAAAAAA",
		"missing hash":      "$argon2id$v=19$m=64,t=1,p=1$" + salt,
		"trailing field":    good + "$x",
		"trailing newline":  good + "\n",
		"huge":              "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + strings.Repeat("A", 600),
		"non-canonical b64": "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + key[:len(key)-1] + "B",
	}
	for name, s := range bad {
		_, err := decodePHC(s)
		wantErr(t, err, ErrInvalidHash, name)
		_, _, err = newHasher(fastParams, 1, time.Second).verify(context.Background(), "x", s)
		wantErr(t, err, ErrInvalidHash, name+" (verify)")
	}
}

// TestDefaultParams checks the defaults and reports how long one hash
// takes with them on this machine.
func TestDefaultParams(t *testing.T) {
	p := DefaultParams()
	eq(t, p, Params{Memory: 19456, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}, "defaults")
	must(t, p.Validate())
	must(t, DefaultPolicy().Validate())
	eq(t, DefaultPolicy().Argon2, p, "policy uses the default params")

	h := newHasher(p, 2, time.Second)
	const n = 5
	start := time.Now()
	var enc string
	for i := 0; i < n; i++ {
		var err error
		enc, err = h.hash(context.Background(), "violet harbor lantern 42")
		must(t, err)
	}
	per := time.Since(start) / n
	check(t, strings.HasPrefix(enc, "$argon2id$v=19$m=19456,t=2,p=1$"), "encoding %q", enc)
	ok, upgrade, err := h.verify(context.Background(), "violet harbor lantern 42", enc)
	must(t, err)
	check(t, ok && !upgrade, "default hash does not verify")
	t.Logf("argon2id m=19456 KiB t=2 p=1: %v per hash on this machine (%s, 1 lane)", per.Round(100*time.Microsecond), runtime.GOARCH)
}

func TestParamsValidate(t *testing.T) {
	must(t, fastParams.Validate())
	for name, p := range map[string]Params{
		"zero":        {},
		"no salt":     {Memory: 64, Time: 1, Threads: 1, KeyLen: 32},
		"short key":   {Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 8},
		"too much m":  {Memory: 1 << 20, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32},
		"m below 8p":  {Memory: 16, Time: 1, Threads: 4, SaltLen: 16, KeyLen: 32},
		"many lanes":  {Memory: 1024, Time: 1, Threads: 64, SaltLen: 16, KeyLen: 32},
		"zero passes": {Memory: 64, Time: 0, Threads: 1, SaltLen: 16, KeyLen: 32},
	} {
		check(t, p.Validate() != nil, "%s accepted", name)
	}
}
