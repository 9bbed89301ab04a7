package main

import "runtime"

func platform() string {
	p := runtime.GOOS + "/" + runtime.GOARCH
	if runtime.GOARCH == "arm" {
		p += "v7"
	}
	return p + " " + runtime.Version()
}
