package modbusproxy

import (
	"runtime"
	"sync"
)

// A busy event loop sleeps in epoll_pwait as a raw system call, which the
// Go scheduler does not see: the loop's goroutine keeps its P (the right
// to run Go code) while it sleeps, so a wake-up is that one system call
// returning — no round trip through the runtime's netpoller, no thread
// hand-off, no monitor thread polling a P "in a system call". (An idle
// loop parks in the netpoller and needs no P: loop.wait.) So that the
// rest of the program keeps the Ps it had, the proxies raise GOMAXPROCS by
// the number of their running loops and lower it again when the loops
// stop. The runtime can still stop a sleeping loop when it must (garbage
// collection, preemption): its signal interrupts epoll_pwait with EINTR and
// the loop yields (see loop.wait).
var heldProcs struct {
	sync.Mutex
	base int // GOMAXPROCS without the loops' Ps
	n    int // Ps held by running loops
}

// holdProcs raises GOMAXPROCS by n, for n loops about to start.
func holdProcs(n int) {
	heldProcs.Lock()
	defer heldProcs.Unlock()
	if heldProcs.n == 0 {
		heldProcs.base = runtime.GOMAXPROCS(0)
	}
	heldProcs.n += n
	runtime.GOMAXPROCS(heldProcs.base + heldProcs.n)
}

// releaseProcs undoes holdProcs(n) once the n loops have stopped.
func releaseProcs(n int) {
	heldProcs.Lock()
	defer heldProcs.Unlock()
	heldProcs.n -= n
	runtime.GOMAXPROCS(heldProcs.base + heldProcs.n)
}

// programProcs is GOMAXPROCS without the Ps the loops hold: the CPUs the
// program may use, and the default number of loops.
func programProcs() int {
	heldProcs.Lock()
	defer heldProcs.Unlock()
	if heldProcs.n == 0 {
		return runtime.GOMAXPROCS(0)
	}
	return heldProcs.base
}
