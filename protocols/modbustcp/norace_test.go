//go:build !race

package modbustcp

const raceEnabled = false
