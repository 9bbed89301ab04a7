//go:build race

package modbustcp

// raceEnabled: the race detector allocates on its own.
const raceEnabled = true
