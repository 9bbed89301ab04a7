package opcua

import (
	"fmt"
	"math/bits"
	"slices"
	"strings"
)

// Service is an OPC UA service a client calls, by its request type.
type Service uint8

// Services, in the order of OPC 10000-4.
const (
	ServiceUnknown Service = iota
	SvcFindServers
	SvcFindServersOnNetwork
	SvcGetEndpoints
	SvcRegisterServer
	SvcRegisterServer2
	SvcCreateSession
	SvcActivateSession
	SvcCloseSession
	SvcCancel
	SvcAddNodes
	SvcAddReferences
	SvcDeleteNodes
	SvcDeleteReferences
	SvcBrowse
	SvcBrowseNext
	SvcTranslateBrowsePathsToNodeIds
	SvcRegisterNodes
	SvcUnregisterNodes
	SvcQueryFirst
	SvcQueryNext
	SvcRead
	SvcHistoryRead
	SvcWrite
	SvcHistoryUpdate
	SvcCall
	SvcCreateMonitoredItems
	SvcModifyMonitoredItems
	SvcSetMonitoringMode
	SvcSetTriggering
	SvcDeleteMonitoredItems
	SvcCreateSubscription
	SvcModifySubscription
	SvcSetPublishingMode
	SvcPublish
	SvcRepublish
	SvcTransferSubscriptions
	SvcDeleteSubscriptions
	numServices
)

type serviceInfo struct {
	name string
	id   uint32 // NodeId (namespace 0) of the request's binary encoding
}

var services = [numServices]serviceInfo{
	ServiceUnknown:                   {"", 0},
	SvcFindServers:                   {"FindServers", 422},
	SvcFindServersOnNetwork:          {"FindServersOnNetwork", 12208},
	SvcGetEndpoints:                  {"GetEndpoints", 428},
	SvcRegisterServer:                {"RegisterServer", 437},
	SvcRegisterServer2:               {"RegisterServer2", 12211},
	SvcCreateSession:                 {"CreateSession", 461},
	SvcActivateSession:               {"ActivateSession", 467},
	SvcCloseSession:                  {"CloseSession", 473},
	SvcCancel:                        {"Cancel", 479},
	SvcAddNodes:                      {"AddNodes", 488},
	SvcAddReferences:                 {"AddReferences", 494},
	SvcDeleteNodes:                   {"DeleteNodes", 500},
	SvcDeleteReferences:              {"DeleteReferences", 506},
	SvcBrowse:                        {"Browse", 527},
	SvcBrowseNext:                    {"BrowseNext", 533},
	SvcTranslateBrowsePathsToNodeIds: {"TranslateBrowsePathsToNodeIds", 554},
	SvcRegisterNodes:                 {"RegisterNodes", 560},
	SvcUnregisterNodes:               {"UnregisterNodes", 566},
	SvcQueryFirst:                    {"QueryFirst", 615},
	SvcQueryNext:                     {"QueryNext", 621},
	SvcRead:                          {"Read", 631},
	SvcHistoryRead:                   {"HistoryRead", 664},
	SvcWrite:                         {"Write", 673},
	SvcHistoryUpdate:                 {"HistoryUpdate", 700},
	SvcCall:                          {"Call", 712},
	SvcCreateMonitoredItems:          {"CreateMonitoredItems", 751},
	SvcModifyMonitoredItems:          {"ModifyMonitoredItems", 763},
	SvcSetMonitoringMode:             {"SetMonitoringMode", 769},
	SvcSetTriggering:                 {"SetTriggering", 775},
	SvcDeleteMonitoredItems:          {"DeleteMonitoredItems", 781},
	SvcCreateSubscription:            {"CreateSubscription", 787},
	SvcModifySubscription:            {"ModifySubscription", 793},
	SvcSetPublishingMode:             {"SetPublishingMode", 799},
	SvcPublish:                       {"Publish", 826},
	SvcRepublish:                     {"Republish", 832},
	SvcTransferSubscriptions:         {"TransferSubscriptions", 841},
	SvcDeleteSubscriptions:           {"DeleteSubscriptions", 847},
}

// Binary encoding ids of the secure conversation's own messages.
const (
	idOpenSecureChannelRequest  = 446
	idCloseSecureChannelRequest = 452
)

func (s Service) String() string {
	if s < numServices {
		return services[s].name
	}
	return ""
}

// RequestTypeID is the numeric NodeId (namespace 0) of the service's
// request encoding, as the message body starts with it.
func (s Service) RequestTypeID() uint32 {
	if s < numServices {
		return services[s].id
	}
	return 0
}

// serviceOfID returns the service whose request type is id (namespace 0).
func serviceOfID(id uint32) Service {
	for s := Service(1); s < numServices; s++ {
		if services[s].id == id {
			return s
		}
	}
	return ServiceUnknown
}

// ServiceSet is a set of services; All is every service, with channels
// whose bodies the gateway cannot read (SignAndEncrypt).
type ServiceSet struct {
	All  bool
	bits uint64
}

// Has reports whether s is in the set.
func (ss ServiceSet) Has(s Service) bool { return ss.All || ss.bits&(1<<s) != 0 }

// Restricts reports whether the set leaves some service out.
func (ss ServiceSet) Restricts() bool { return !ss.All }

// Len is the number of services in the set (numServices-1 for All).
func (ss ServiceSet) Len() int {
	if ss.All {
		return int(numServices) - 1
	}
	return bits.OnesCount64(ss.bits)
}

// Add adds services.
func (ss *ServiceSet) Add(s ...Service) {
	for _, x := range s {
		ss.bits |= 1 << x
	}
}

// Covers reports whether every service of o is in ss.
func (ss ServiceSet) Covers(o ServiceSet) bool {
	if ss.All {
		return true
	}
	return !o.All && o.bits&^ss.bits == 0
}

// Services lists the set's services in order.
func (ss ServiceSet) Services() []Service {
	var out []Service
	for s := Service(1); s < numServices; s++ {
		if ss.Has(s) {
			out = append(out, s)
		}
	}
	return out
}

// Service presets of the `services:` and `allow_none_for:` lists.
const (
	PresetDiscovery = "discovery"
	PresetReadOnly  = "read_only"
	PresetReadWrite = "read_write"
	PresetAny       = "any"
)

// Presets are the preset names, in order of what they allow.
var Presets = []string{PresetDiscovery, PresetReadOnly, PresetReadWrite, PresetAny}

func preset(name string) (ServiceSet, bool) {
	var ss ServiceSet
	switch name {
	case PresetAny:
		return ServiceSet{All: true}, true
	case PresetReadWrite:
		ss.Add(SvcWrite, SvcCall)
		fallthrough
	case PresetReadOnly:
		ss.Add(SvcCreateSession, SvcActivateSession, SvcCloseSession, SvcCancel,
			SvcBrowse, SvcBrowseNext, SvcTranslateBrowsePathsToNodeIds, SvcRegisterNodes, SvcUnregisterNodes,
			SvcQueryFirst, SvcQueryNext, SvcRead, SvcHistoryRead,
			SvcCreateMonitoredItems, SvcModifyMonitoredItems, SvcSetMonitoringMode, SvcSetTriggering, SvcDeleteMonitoredItems,
			SvcCreateSubscription, SvcModifySubscription, SvcSetPublishingMode, SvcPublish, SvcRepublish,
			SvcTransferSubscriptions, SvcDeleteSubscriptions)
		fallthrough
	case PresetDiscovery:
		ss.Add(SvcFindServers, SvcFindServersOnNetwork, SvcGetEndpoints, SvcRegisterServer, SvcRegisterServer2)
		return ss, true
	}
	return ss, false
}

// ParseServices turns a list of presets and service names (`read_only`,
// `Write`, ...) into a set.
func ParseServices(terms []string) (ServiceSet, error) {
	var ss ServiceSet
	for _, t := range terms {
		if p, ok := preset(t); ok {
			ss.All = ss.All || p.All
			ss.bits |= p.bits
			continue
		}
		s, ok := ParseService(t)
		if !ok {
			return ss, fmt.Errorf("unknown OPC UA service %q%s", t, serviceHint(t))
		}
		ss.Add(s)
	}
	return ss, nil
}

// ParseService returns the service of a name such as "Write".
func ParseService(name string) (Service, bool) {
	for s := Service(1); s < numServices; s++ {
		if services[s].name == name {
			return s, true
		}
	}
	return ServiceUnknown, false
}

// ServiceNames lists the names of the services.
func ServiceNames() []string {
	var out []string
	for s := Service(1); s < numServices; s++ {
		out = append(out, services[s].name)
	}
	return out
}

func serviceHint(t string) string {
	all := append(slices.Clone(Presets), ServiceNames()...)
	for _, c := range all {
		if strings.EqualFold(c, t) || strings.EqualFold(strings.ReplaceAll(c, "_", ""), strings.ReplaceAll(t, "_", "")) {
			return fmt.Sprintf(": did you mean %s?", c)
		}
	}
	return " (a preset: " + strings.Join(Presets, ", ") + "; or a service name such as Read, Write, Call, Browse)"
}
