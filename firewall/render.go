package firewall

import (
	"fmt"
	"io"
	"strings"
)

// Render writes the ruleset as an nft script. Loading it with `nft -f`
// replaces table inet zonegate atomically and gives the same ruleset as
// Apply. Header lines are written as comments at the top.
func Render(w io.Writer, rs *Ruleset, header ...string) error {
	var b strings.Builder
	b.WriteString("#!/usr/sbin/nft -f\n")
	for _, h := range header {
		b.WriteString("# " + h + "\n")
	}
	// Creating the table first makes the delete succeed on a clean box; the
	// whole file is one transaction, so the old table stays until it commits.
	fmt.Fprintf(&b, "table inet %s\ndelete table inet %s\n\n", TableName, TableName)
	fmt.Fprintf(&b, "table inet %s {\n", TableName)
	for _, name := range rs.Counters {
		fmt.Fprintf(&b, "\tcounter %s {\n\t}\n\n", name)
	}
	for _, s := range rs.Sets {
		renderSet(&b, s)
	}
	for i, ch := range rs.Chains {
		if i > 0 {
			b.WriteString("\n")
		}
		renderChain(&b, ch)
	}
	b.WriteString("}\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// String renders the ruleset without a header.
func (rs *Ruleset) String() string {
	var b strings.Builder
	_ = Render(&b, rs)
	return b.String()
}

func keyTypeText(k KeyType) string {
	switch k {
	case KeyIfname:
		return "ifname"
	case KeyIfnamePair:
		return "ifname . ifname"
	case KeyIPv4:
		return "ipv4_addr"
	case KeyIPv6:
		return "ipv6_addr"
	}
	panic(fmt.Sprintf("firewall: unknown key type %d", k))
}

func elemText(s *Set, e Elem) string {
	var key string
	switch s.Key {
	case KeyIfname:
		key = fmt.Sprintf("%q", e.Ifnames[0])
	case KeyIfnamePair:
		key = fmt.Sprintf("%q . %q", e.Ifnames[0], e.Ifnames[1])
	default:
		key = rangeText(e.Range)
	}
	if s.VerdictMap {
		return key + " : " + e.Verdict.text()
	}
	return key
}

func renderSet(b *strings.Builder, s *Set) {
	kind := "set"
	typ := keyTypeText(s.Key)
	if s.VerdictMap {
		kind, typ = "map", typ+" : verdict"
	}
	fmt.Fprintf(b, "\t%s %s {\n\t\ttype %s\n", kind, s.Name, typ)
	if s.Interval() {
		b.WriteString("\t\tflags interval\n")
	}
	if len(s.Elems) > 0 {
		b.WriteString("\t\telements = {")
		for i, e := range s.Elems {
			if i > 0 {
				b.WriteString(",")
			}
			b.WriteString("\n\t\t\t" + elemText(s, e))
		}
		b.WriteString("\n\t\t}\n")
	}
	b.WriteString("\t}\n\n")
}

func renderChain(b *strings.Builder, ch *Chain) {
	fmt.Fprintf(b, "\tchain %s {\n", ch.Name)
	if ch.Hook != HookNone {
		fmt.Fprintf(b, "\t\ttype %s hook %s priority %d; policy %s;\n", ch.Type, ch.Hook, ch.Priority, ch.Policy)
	}
	for _, r := range ch.Rules {
		parts := make([]string, 0, len(r.Stmts)+1)
		for _, s := range r.Stmts {
			parts = append(parts, s.text())
		}
		if r.Comment != "" {
			parts = append(parts, fmt.Sprintf("comment %q", r.Comment))
		}
		b.WriteString("\t\t" + strings.Join(parts, " ") + "\n")
	}
	b.WriteString("\t}\n")
}
