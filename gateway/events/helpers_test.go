package events

import "strconv"

func itoa(i int) string                  { return strconv.Itoa(i) }
func parseUint(s string) (uint64, error) { return strconv.ParseUint(s, 10, 64) }
