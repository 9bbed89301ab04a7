//go:build race

package modbus

// raceEnabled: the race detector allocates on its own.
const raceEnabled = true
