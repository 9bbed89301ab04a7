package firewall

import (
	"net/netip"
	"slices"

	"github.com/google/nftables"
)

// span is an inclusive range of big-endian keys of one length.
type span struct{ from, to []byte }

// intervalElems encodes sorted, disjoint, non-adjacent spans the way nft
// does for interval sets: an end marker at zero when the first span starts
// above zero, then for every span its start and, unless it reaches the top
// of the key space, the key after its end flagged as interval end.
func intervalElems(spans []span) []nftables.SetElement {
	var out []nftables.SetElement
	if len(spans) > 0 && !allBytes(spans[0].from, 0) {
		out = append(out, nftables.SetElement{Key: make([]byte, len(spans[0].from)), IntervalEnd: true})
	}
	for _, s := range spans {
		out = append(out, nftables.SetElement{Key: slices.Clone(s.from)})
		if !allBytes(s.to, 0xff) {
			out = append(out, nftables.SetElement{Key: increment(s.to), IntervalEnd: true})
		}
	}
	return out
}

func allBytes(b []byte, v byte) bool {
	for _, x := range b {
		if x != v {
			return false
		}
	}
	return true
}

func increment(b []byte) []byte {
	out := slices.Clone(b)
	for i := len(out) - 1; i >= 0; i-- {
		out[i]++
		if out[i] != 0 {
			break
		}
	}
	return out
}

// mergeRanges turns prefixes of one family into sorted address ranges,
// merging overlapping and adjacent ones.
func mergeRanges(ps []netip.Prefix) []AddrRange {
	sorted := slices.Clone(ps)
	slices.SortFunc(sorted, func(a, b netip.Prefix) int { return a.Addr().Compare(b.Addr()) })
	var out []AddrRange
	for _, p := range sorted {
		r := AddrRange{From: p.Masked().Addr(), To: lastAddr(p)}
		if n := len(out); n > 0 {
			last := &out[n-1]
			if next := last.To.Next(); r.From.Compare(last.To) <= 0 || (next.IsValid() && next == r.From) {
				if r.To.Compare(last.To) > 0 {
					last.To = r.To
				}
				continue
			}
		}
		out = append(out, r)
	}
	return out
}

// lastAddr returns the highest address of a prefix.
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().AsSlice()
	bits := p.Bits()
	for i := range b {
		for bit := 0; bit < 8; bit++ {
			if i*8+bit >= bits {
				b[i] |= 0x80 >> bit
			}
		}
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// rangeText writes a range as nft does: a single address, a prefix when the
// range is exactly one, or FROM-TO.
func rangeText(r AddrRange) string {
	if r.From == r.To {
		return r.From.String()
	}
	for bits := 0; bits <= r.From.BitLen(); bits++ {
		p := netip.PrefixFrom(r.From, bits)
		if p.Masked().Addr() == r.From && lastAddr(p) == r.To {
			return p.String()
		}
	}
	return r.From.String() + "-" + r.To.String()
}
