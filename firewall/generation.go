package firewall

import (
	"encoding/binary"
	"fmt"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// Generation returns the kernel's nftables ruleset generation: a number
// that changes with every committed transaction on any table. Reading it
// is one small netlink request, so a watcher can poll it often and read
// the whole table only when it moved.
func Generation(t Target) (uint32, error) {
	if err := t.usable(); err != nil {
		return 0, err
	}
	conn, err := netlink.Dial(unix.NETLINK_NETFILTER, &netlink.Config{NetNS: t.fd()})
	if err != nil {
		return 0, fmt.Errorf("open nftables netlink socket: %w", err)
	}
	defer conn.Close()
	msg := netlink.Message{
		Header: netlink.Header{
			Type:  netlink.HeaderType(unix.NFNL_SUBSYS_NFTABLES<<8 | unix.NFT_MSG_GETGEN),
			Flags: netlink.Request,
		},
		Data: []byte{unix.AF_UNSPEC, unix.NFNETLINK_V0, 0, 0}, // struct nfgenmsg
	}
	replies, err := conn.Execute(msg)
	if err != nil {
		return 0, fmt.Errorf("read nftables generation: %w", err)
	}
	for _, r := range replies {
		if len(r.Data) < 4 {
			continue
		}
		ad, err := netlink.NewAttributeDecoder(r.Data[4:])
		if err != nil {
			return 0, err
		}
		for ad.Next() {
			if ad.Type() == unix.NFTA_GEN_ID {
				return binary.BigEndian.Uint32(ad.Bytes()), nil
			}
		}
	}
	return 0, fmt.Errorf("read nftables generation: no generation in the kernel's answer")
}
