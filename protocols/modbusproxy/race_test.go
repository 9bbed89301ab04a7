//go:build race

package modbusproxy

// raceEnabled: the race detector allocates on its own.
const raceEnabled = true
