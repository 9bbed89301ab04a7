package auth

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// CheckPassword checks a new password for user against the policy: length,
// no control characters, not containing the user name, "zonegate" or a
// ForbiddenWords entry, not a common password (also with digits, symbols
// or leet substitutions around it), not a repeated pattern or a keyboard
// or alphabet sequence. It does not check the history (the Manager does).
// The error is a *PolicyError; it never contains the password.
func (p Policy) CheckPassword(username, password string) error {
	p = p.withDefaults()
	refuse := func(format string, a ...any) error {
		return &PolicyError{Reason: fmt.Sprintf(format, a...)}
	}
	if !utf8.ValidString(password) {
		return refuse("not valid UTF-8 text")
	}
	if len(password) > p.MaxLength {
		return refuse("longer than %d bytes", p.MaxLength)
	}
	if n := utf8.RuneCountInString(password); n < p.MinLength {
		return refuse("shorter than %d characters: use a passphrase of several unrelated words", p.MinLength)
	}
	for _, r := range password {
		if unicode.IsControl(r) {
			return refuse("contains control characters (such as tab or newline)")
		}
	}
	lower := strings.ToLower(password)
	vs := variants(lower)

	words := []string{"zonegate"}
	for _, w := range p.ForbiddenWords {
		if w = strings.ToLower(strings.TrimSpace(w)); utf8.RuneCountInString(w) >= 4 {
			words = append(words, w)
		}
	}
	for _, v := range vs {
		if len(username) >= 3 && (strings.Contains(v, username) || strings.Contains(v, reverse(username))) {
			return refuse("contains the user name")
		}
		for _, w := range words {
			if strings.Contains(v, w) {
				return refuse("contains %q", w)
			}
		}
	}
	if distinct(lower) < 5 {
		return refuse("uses fewer than 5 different characters")
	}
	if periodic(lower) {
		return refuse("is a repeated pattern")
	}
	for _, v := range vs {
		if len(v) >= 8 && isSequence(v) {
			return refuse("is a keyboard or alphabet sequence")
		}
	}
	for _, v := range vs {
		if len(v) >= 4 && isCommon(v) || commonWithAffix(v) {
			return refuse("is a commonly used password or a small variation of one")
		}
	}
	return nil
}

// variants returns the forms of a lower-case password checked against the
// word lists: as typed, without separators, with the leading and trailing
// digits and symbols removed, and with leet substitutions undone.
func variants(lower string) []string {
	seen := map[string]bool{}
	var out []string
	add := func(s string) {
		if s != "" && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	for _, a := range []string{lower, stripSeparators(lower)} {
		add(a)
		core := trimNonLetters(a)
		add(core)
		for _, table := range leetTables {
			add(unleet(a, table))
			add(unleet(core, table))
		}
	}
	return out
}

// leetTables undo common substitutions; '1' is tried as both 'i' and 'l'.
var leetTables = []map[rune]rune{
	{'@': 'a', '4': 'a', '8': 'b', '3': 'e', '6': 'g', '9': 'g', '1': 'i', '!': 'i', '0': 'o', '$': 's', '5': 's', '7': 't', '+': 't', '2': 'z'},
	{'@': 'a', '4': 'a', '8': 'b', '3': 'e', '6': 'g', '9': 'g', '1': 'l', '|': 'l', '0': 'o', '$': 's', '5': 's', '7': 't', '+': 't'},
}

func unleet(s string, table map[rune]rune) string {
	return strings.Map(func(r rune) rune {
		if m, ok := table[r]; ok {
			return m
		}
		return r
	}, s)
}

func stripSeparators(s string) string {
	return strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' || r == '_' || r == '.' {
			return -1
		}
		return r
	}, s)
}

// trimNonLetters removes leading and trailing characters that are not
// letters: "2024summer!!" -> "summer".
func trimNonLetters(s string) string {
	return strings.TrimFunc(s, func(r rune) bool { return !unicode.IsLetter(r) })
}

// commonWithAffix reports whether s is a listed password of at least 5
// characters with at most 4 other characters, or only non-letters, added
// around or inside it: "xpasswordx12", "1987dragon0423".
func commonWithAffix(s string) bool {
	if len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		for j := i + 5; j <= len(s) && j-i <= 32; j++ {
			if !isCommon(s[i:j]) {
				continue
			}
			rest := s[:i] + s[j:]
			if len(rest) <= 4 || !strings.ContainsFunc(rest, unicode.IsLetter) {
				return true
			}
		}
	}
	return false
}

func distinct(s string) int {
	seen := map[rune]bool{}
	for _, r := range s {
		seen[r] = true
	}
	return len(seen)
}

// periodic reports whether s is a shorter string repeated: "abcabcabcabc".
func periodic(s string) bool {
	n := len(s)
	for p := 1; p <= n/2; p++ {
		if n%p == 0 && strings.Repeat(s[:p], n/p) == s {
			return true
		}
	}
	return false
}

// sequences are keyboard rows and walks and the alphabet, each written
// twice so that wrapped runs ("7890123456") are found too.
var sequences = func() []string {
	base := []string{
		"abcdefghijklmnopqrstuvwxyz", "0123456789",
		"1234567890-=", "!@#$%^&*()_+",
		"qwertyuiop[]", "asdfghjkl;'", "zxcvbnm,./",
		"qwertyuiopasdfghjklzxcvbnm", "1234567890qwertyuiopasdfghjklzxcvbnm",
		"azertyuiopqsdfghjklmwxcvbn", "qwertzuiopasdfghjklyxcvbnm",
		"1qaz2wsx3edc4rfv5tgb6yhn7ujm8ik,9ol.0p;/", "qazwsxedcrfvtgbyhnujmikolp",
		"zaq1xsw2cde3vfr4bgt5nhy6mju7,ki8.lo9/;p0", "1q2w3e4r5t6y7u8i9o0p", "q1w2e3r4t5y6u7i8o9p0",
		"1a2b3c4d5e6f7g8h9i", "a1b2c3d4e5f6g7h8i9",
	}
	var out []string
	for _, b := range base {
		out = append(out, b+b, reverse(b+b))
	}
	return out
}()

// isSequence reports whether s lies inside one of the sequences.
func isSequence(s string) bool {
	for _, seq := range sequences {
		if strings.Contains(seq, s) {
			return true
		}
	}
	return false
}

func reverse(s string) string {
	r := []rune(s)
	for i, j := 0, len(r)-1; i < j; i, j = i+1, j-1 {
		r[i], r[j] = r[j], r[i]
	}
	return string(r)
}
