package events

import (
	"sync"

	"github.com/zonegate/zonegate/gateway/zone"
)

// InterfaceZones names the ingress zone of dropped packets: the
// interfaces of the applied zone model and their zones. It follows the
// model as an installer of the change transactions (Prepare), and ZoneOf
// is what NflogConfig.ZoneOf asks. The zero value knows no interface; it
// is safe for concurrent use.
type InterfaceZones struct {
	mu sync.RWMutex
	m  map[string]string
}

// Prepare makes the interfaces of m the ones dropped packets are named by
// once m is applied, in island mode too.
func (z *InterfaceZones) Prepare(m *zone.Model) (install func(island bool), err error) {
	return func(bool) { z.set(m) }, nil
}

// set takes the interfaces of m (nil: none known).
func (z *InterfaceZones) set(m *zone.Model) {
	out := map[string]string{}
	if m != nil {
		for _, zn := range m.Zones {
			for _, i := range zn.Interfaces {
				out[i] = zn.Name
			}
		}
	}
	z.mu.Lock()
	z.m = out
	z.mu.Unlock()
}

// ZoneOf returns the zone of interface name, "" if none.
func (z *InterfaceZones) ZoneOf(name string) string {
	z.mu.RLock()
	defer z.mu.RUnlock()
	return z.m[name]
}
