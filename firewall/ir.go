// Package firewall turns a zone model into the nftables ruleset of table
// inet zonegate: it compiles the model into a small intermediate form
// (Ruleset), renders that as an nft script for `zonegate plan`, applies it in
// one netlink transaction, reads the table back to prove what the kernel
// holds, and removes conntrack entries the new model no longer allows.
//
// Every statement of the intermediate form knows both its nft text and the
// netlink expressions nft itself would generate for that text, so `nft -f`
// of the plan and a netlink apply give the same ruleset.
package firewall

import (
	"net/netip"
)

// TableName is the one table zonegate owns, in family inet.
const TableName = "zonegate"

// Ruleset is the compiled form of one zone model.
type Ruleset struct {
	Counters []string
	Sets     []*Set
	Chains   []*Chain
}

// KeyType is the key of a named set or map.
type KeyType uint8

// Key types of named sets and maps.
const (
	KeyIfname     KeyType = iota + 1 // one interface name
	KeyIfnamePair                    // iifname . oifname
	KeyIPv4                          // IPv4 address intervals
	KeyIPv6                          // IPv6 address intervals
)

// Set is a named set, or a verdict map when Elems carry verdicts.
type Set struct {
	Name       string
	Key        KeyType
	VerdictMap bool
	Elems      []Elem
}

// Interval reports whether the set holds address intervals.
func (s *Set) Interval() bool { return s.Key == KeyIPv4 || s.Key == KeyIPv6 }

// Elem is one element of a set or map.
type Elem struct {
	Ifnames []string  // KeyIfname: one name; KeyIfnamePair: two
	Range   AddrRange // KeyIPv4 and KeyIPv6
	Verdict Verdict   // verdict maps
}

// AddrRange is an inclusive range of addresses of one family.
type AddrRange struct{ From, To netip.Addr }

// Hook of a base chain.
type Hook string

// Hooks zonegate uses.
const (
	HookNone       Hook = ""
	HookPrerouting Hook = "prerouting"
	HookInput      Hook = "input"
	HookForward    Hook = "forward"
)

// Chain is a base chain (Hook set) or a regular chain jumped to.
type Chain struct {
	Name     string
	Hook     Hook
	Type     string // "filter" or "nat"; base chains only
	Priority int    // base chains only
	Policy   string // "accept" or "drop"; base chains only
	Rules    []*Rule
}

// Rule is a sequence of statements with an optional comment.
type Rule struct {
	Stmts   []Stmt
	Comment string
}

func rule(comment string, stmts ...Stmt) *Rule { return &Rule{Stmts: stmts, Comment: comment} }

// Set returns the named set, or nil.
func (rs *Ruleset) Set(name string) *Set {
	for _, s := range rs.Sets {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// Chain returns the named chain, or nil.
func (rs *Ruleset) Chain(name string) *Chain {
	for _, c := range rs.Chains {
		if c.Name == name {
			return c
		}
	}
	return nil
}
