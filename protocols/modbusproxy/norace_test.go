//go:build !race

package modbusproxy

const raceEnabled = false
