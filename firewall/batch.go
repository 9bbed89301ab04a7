package firewall

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"syscall"

	"github.com/google/nftables"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// A batch is marshalled by google/nftables (through a test dial that
// records the messages instead of sending them) and sent by sendBatch:
// google/nftables v0.3.0 asks the kernel for an acknowledgement and an echo
// of every message and reads them one by one, which for 30,000 messages
// costs more than the kernel's work. sendBatch asks for one acknowledgement,
// of the last message, and reads errors of any other message the kernel
// reports on its own.

// nfnlBatchGenID is NFNL_BATCH_GENID, the attribute of a batch begin
// message that makes the batch conditional on the ruleset generation.
const nfnlBatchGenID = 1

// errCaptured stops google/nftables' Flush from waiting for answers to the
// recorded messages: Flush returns at once on ENOBUFS.
var errCaptured = syscall.ENOBUFS

// capture returns the messages queue adds to a Conn, batch begin and end
// included, marshalled as google/nftables would send them.
func capture(queue func(*nftables.Conn) error) ([]netlink.Message, error) {
	var msgs []netlink.Message
	conn, err := nftables.New(nftables.WithTestDial(func(req []netlink.Message) ([]netlink.Message, error) {
		if req == nil {
			return nil, errCaptured
		}
		msgs = append(msgs, req...)
		return nil, nil
	}))
	if err != nil {
		return nil, err
	}
	if err := queue(conn); err != nil {
		return nil, err
	}
	if err := conn.Flush(); err != nil && !errors.Is(err, errCaptured) {
		return nil, err
	}
	return msgs, nil
}

// batchError is the kernel's refusal of a batch: the transaction was
// aborted and the previous ruleset is still in place.
type batchError struct {
	errno   syscall.Errno
	what    string // the message the kernel refused, e.g. "add rule to chain forward"
	refused int    // number of messages refused
}

func (e *batchError) Error() string {
	if e.refused > 1 {
		return fmt.Sprintf("the kernel refused %q: %v (and %d more messages)", e.what, e.errno, e.refused-1)
	}
	return fmt.Sprintf("the kernel refused %q: %v", e.what, e.errno)
}

func (e *batchError) Unwrap() error { return e.errno }

// sendBatch sends msgs (begin, the messages, end) as one transaction in one
// sendmsg, asking for an acknowledgement of the last message only, and
// waits for it. The kernel reports every refused message whether or not it
// asked for an acknowledgement, and refuses the whole transaction then.
//
// A nonzero genID makes the transaction conditional: the kernel refuses it
// with ERESTART when the ruleset generation is no longer genID.
func (c *rawConn) sendBatch(msgs []netlink.Message, genID uint32) error {
	if len(msgs) < 3 {
		return nil
	}
	size := 0
	for _, m := range msgs {
		size += unix.NLMSG_HDRLEN + nlAlign(len(m.Data))
	}
	buf := make([]byte, 0, size)
	first := c.seq + 1
	last := len(msgs) - 2
	var lastSeq uint32
	for i, m := range msgs {
		flags := uint16(m.Header.Flags) &^ (unix.NLM_F_ACK | unix.NLM_F_ECHO)
		seq := c.nextSeq()
		if i == last {
			flags |= unix.NLM_F_ACK
			lastSeq = seq
		}
		data := m.Data
		if i == 0 && genID != 0 {
			data = appendAttr(slices.Clip(data), nfnlBatchGenID, binary.BigEndian.AppendUint32(nil, genID))
		}
		buf = appendMsg(buf, uint16(m.Header.Type), flags, seq, data)
	}
	if err := c.send(buf); err != nil {
		return fmt.Errorf("send the batch: %w", err)
	}
	var refused *batchError
	for acked := false; !acked; {
		_, err := c.recv(func(h unix.NlMsghdr, data []byte) (bool, error) {
			if h.Type != unix.NLMSG_ERROR {
				return true, nil
			}
			errno, seq, ok := nlError(data)
			if !ok || seq < first || seq > lastSeq {
				return true, nil
			}
			if errno != 0 {
				if refused == nil {
					refused = &batchError{errno: errno, what: describeMsg(msgs[seq-first])}
				}
				refused.refused++
				if seq == first {
					// The batch as a whole (e.g. the commit) failed: the
					// per-message answers may not follow.
					acked = true
				}
			}
			if seq == lastSeq {
				acked = true
			}
			return true, nil
		})
		if err != nil {
			return err
		}
	}
	if refused != nil {
		return refused
	}
	return nil
}

// describeMsg names a batch message for an error: what it does and to
// which chain, set or object.
func describeMsg(m netlink.Message) string {
	verb := map[int]string{
		unix.NFT_MSG_NEWTABLE: "add table", unix.NFT_MSG_DELTABLE: "delete table",
		unix.NFT_MSG_NEWCHAIN: "add chain", unix.NFT_MSG_NEWRULE: "add rule to chain",
		unix.NFT_MSG_NEWSET: "add set", unix.NFT_MSG_NEWSETELEM: "add elements to set",
		unix.NFT_MSG_NEWOBJ: "add object", unix.NFT_MSG_DELRULE: "delete rule from chain",
		unix.NFT_MSG_DELSETELEM: "delete elements from set",
	}
	typ := int(m.Header.Type) & 0xff
	if int(m.Header.Type) == unix.NFNL_MSG_BATCH_BEGIN {
		return "batch"
	}
	v, ok := verb[typ]
	if !ok {
		v = fmt.Sprintf("message type %d", typ)
	}
	if len(m.Data) < 4 {
		return v
	}
	list, _ := attrs(m.Data[4:], nil)
	// The attribute that names the table, chain, set or object.
	name := uint16(2) // NFTA_RULE_CHAIN, NFTA_SET_NAME, NFTA_SET_ELEM_LIST_SET, NFTA_OBJ_NAME
	switch typ {
	case unix.NFT_MSG_NEWTABLE, unix.NFT_MSG_DELTABLE:
		name = unix.NFTA_TABLE_NAME
	case unix.NFT_MSG_NEWCHAIN:
		name = unix.NFTA_CHAIN_NAME
	}
	for _, a := range list {
		if a.typ == name {
			return v + " " + string(bytes.TrimRight(a.val, "\x00"))
		}
	}
	return v
}
