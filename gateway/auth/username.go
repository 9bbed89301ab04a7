package auth

import "fmt"

// MaxUsernameLen is the longest user name.
const MaxUsernameLen = 32

// ValidateUsername checks a user name: 1 to 32 characters, a lower-case
// letter or underscore first, then lower-case letters, digits, '_', '.' or
// '-' ([a-z_][a-z0-9_.-]{0,31}, like Linux user names). The restriction
// keeps names safe in file names, log lines and syslog fields.
func ValidateUsername(name string) error {
	if name == "" {
		return fmt.Errorf("%w: empty; use 1-%d characters [a-z_][a-z0-9_.-]", ErrInvalidUsername, MaxUsernameLen)
	}
	if len(name) > MaxUsernameLen {
		return fmt.Errorf("%w: %d characters, at most %d", ErrInvalidUsername, len(name), MaxUsernameLen)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		ok := c >= 'a' && c <= 'z' || c == '_'
		if i > 0 {
			ok = ok || c >= '0' && c <= '9' || c == '.' || c == '-'
		}
		if !ok {
			return fmt.Errorf("%w %q: use lower-case letters, digits, '_', '.' and '-', starting with a letter or '_'", ErrInvalidUsername, name)
		}
	}
	return nil
}

// loggableName returns name for events when it is a valid user name, and a
// placeholder otherwise: a login attempt's "user name" may be a password
// typed into the wrong field, and must not end up in the audit log.
func loggableName(name string) string {
	if ValidateUsername(name) != nil {
		return "(invalid user name)"
	}
	return name
}
