package auth

import (
	_ "embed"
	"strings"
	"sync"
)

//go:embed common_passwords.txt
var commonPasswordsText string

var (
	commonOnce sync.Once
	commonSet  map[string]struct{}
)

// isCommon reports whether s (lower case) is on the built-in list.
func isCommon(s string) bool {
	commonOnce.Do(func() {
		commonSet = make(map[string]struct{}, 4096)
		for _, line := range strings.Split(commonPasswordsText, "\n") {
			line = strings.TrimSpace(line)
			if line != "" && !strings.HasPrefix(line, "#") {
				commonSet[line] = struct{}{}
			}
		}
	})
	_, ok := commonSet[s]
	return ok
}
