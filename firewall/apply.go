package firewall

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"

	"github.com/google/nftables"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// Target selects the network namespace to work on.
type Target struct {
	// NetNS is an open network namespace (/run/netns/NAME); nil means the
	// caller's namespace. Holding the file keeps its descriptor valid.
	NetNS *os.File
}

// OpenNetNS opens a named network namespace (created by `ip netns add`).
// Close the Target when done.
func OpenNetNS(name string) (Target, error) {
	f, err := os.Open("/run/netns/" + name)
	if err != nil {
		return Target{}, fmt.Errorf("open network namespace %q: %w (create it with `ip netns add %s`)", name, err, name)
	}
	return Target{NetNS: f}, nil
}

// Close releases the namespace file, if any.
func (t Target) Close() error {
	if t.NetNS == nil {
		return nil
	}
	return t.NetNS.Close()
}

func (t Target) fd() int {
	if t.NetNS == nil {
		return 0
	}
	return int(t.NetNS.Fd())
}

// socketBuffer is the netlink socket buffer size for big batches: google/nftables
// v0.3.0 returns ENOBUFS for large batches with default buffers even when the
// kernel committed them.
const socketBuffer = 32 << 20

// conn opens one google/nftables netlink socket for all requests made
// through the returned Conn (Remove, Counters); close it with
// CloseLasting. Apply and Current use raw sockets (rawConn).
func (t Target) conn() (*nftables.Conn, error) {
	if err := t.usable(); err != nil {
		return nil, err
	}
	opts := []nftables.ConnOption{nftables.AsLasting(), nftables.WithSockOptions(func(c *netlink.Conn) error {
		// Best effort: without CAP_NET_ADMIN the kernel caps the size.
		_ = c.SetReadBuffer(socketBuffer)
		_ = c.SetWriteBuffer(socketBuffer)
		return nil
	})}
	if t.NetNS != nil {
		opts = append(opts, nftables.WithNetNSFd(t.fd()))
	}
	c, err := nftables.New(opts...)
	if err != nil {
		return nil, fmt.Errorf("open nftables netlink socket: %w", err)
	}
	return c, nil
}

// usable checks that netfilter netlink sockets can be created at all.
// Opening one inside a namespace with mdlayher/socket v0.5.0 turns a
// failed socket(2) into a nil connection and a panic later (QEMU user
// mode, kernels without nf_tables), so the failure is caught here first.
func (t Target) usable() error {
	if t.NetNS == nil {
		return nil // the library reports errors in the current namespace itself
	}
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_NETFILTER)
	if err != nil {
		return fmt.Errorf("netfilter netlink is not available (kernel without nf_tables, or emulation): %w", err)
	}
	unix.Close(fd)
	return nil
}

// Result says what Apply did and what it verified.
type Result struct {
	Changed bool // false when the kernel already held exactly this ruleset
	Rules   int
	Sets    int
	// Fingerprint is the table Apply installs, compared with what it read
	// back: after a successful Apply, what the kernel holds. It is also
	// set when Apply fails after the ruleset was prepared, so a caller can
	// keep defending what it meant to install; nil when the ruleset could
	// not be prepared.
	Fingerprint Fingerprint
	// Generation is the ruleset generation read before the table was
	// verified: while the kernel's generation stays at it, the table is
	// still the verified one. GenerationErr says why it could not be read
	// (Generation is then 0).
	Generation    uint32
	GenerationErr error
}

// Expected returns the fingerprint of what applying rs installs, without
// applying it; Apply returns it in its Result (tests and fake kernels use
// this).
func Expected(rs *Ruleset) Fingerprint {
	k := toKernel(rs)
	msgs, err := k.ruleMsgs()
	if err == nil {
		err = k.ruleLines(msgs)
	}
	if err != nil {
		// Apply refuses such a ruleset before sending anything; no
		// kernel table has this fingerprint.
		return Fingerprint{"invalid ruleset: " + err.Error()}
	}
	return k.fingerprint()
}

// Current reads table inet zonegate and returns its fingerprint; nil when
// the table does not exist.
func Current(t Target) (Fingerprint, error) {
	c, err := t.readConns()
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return c.current()
}

// Apply replaces table inet zonegate with rs in one netlink transaction
// and touches no other table. When the kernel already holds exactly rs it
// changes nothing (counters keep counting). After the transaction it reads
// the table back and fails when it is not what was meant. The Result
// carries the fingerprint it verified and the generation it verified at.
func Apply(t Target, rs *Ruleset) (res Result, err error) {
	want := toKernel(rs)
	res = Result{Rules: len(want.rules), Sets: len(want.sets)}
	msgs, err := want.ruleMsgs()
	if err != nil {
		// Nothing has been sent: the rules are only marshalled here.
		return res, fmt.Errorf("prepare nftables batch (nothing was changed): %w", err)
	}
	// The expected fingerprint is only needed to compare: it is computed
	// while the current table is read and the batch is sent.
	type fp struct {
		fp  Fingerprint
		err error
	}
	fpDone := make(chan fp, 1)
	go func() {
		if err := want.ruleLines(msgs); err != nil {
			fpDone <- fp{err: err}
			return
		}
		fpDone <- fp{fp: want.fingerprint()}
	}()
	expected := sync.OnceValues(func() (Fingerprint, error) { f := <-fpDone; return f.fp, f.err })
	defer func() {
		if res.Fingerprint == nil {
			res.Fingerprint, _ = expected() // what was meant, also when it failed
		}
	}()
	conns, err := t.readConns()
	if err != nil {
		return res, err
	}
	defer conns.Close()
	// The table as it is, and the generation it was read at: the same
	// before and after means nothing committed while it was read.
	gen, genErr := conns.structure.generation()
	cur, err := readTable(conns.structure, conns.rules)
	if errors.Is(err, errNoTable) {
		cur = nil
	} else if err != nil {
		return res, fmt.Errorf("read the current ruleset before applying: %w", err)
	}
	var flushErr error
	sent := false
	if cur != nil {
		wantFP, err := expected()
		if err != nil {
			return res, fmt.Errorf("prepare nftables batch (nothing was changed): %w", err)
		}
		if cur.fingerprint().Equal(wantFP) {
			// Verified at the generation read before the table.
			res.Fingerprint, res.Generation, res.GenerationErr = wantFP, gen, genErr
			return res, nil
		}
	}
	// Without a table to compare, the expected fingerprint is computed
	// while the kernel works on the batch.
	if gen2, err := conns.structure.generation(); cur != nil && genErr == nil && err == nil && gen2 == gen {
		dmsgs, changed, ok, err := delta(cur, want, msgs)
		if err != nil {
			return res, fmt.Errorf("prepare nftables batch (nothing was changed): %w", err)
		}
		if ok {
			// Only what differs, on condition that the table is still
			// the one read; otherwise the whole table below.
			flushErr = conns.rules.sendBatch(dmsgs, gen)
			sent = !errors.Is(flushErr, syscall.ERESTART)
			if flushErr == nil {
				if after, err := conns.structure.generation(); err == nil && after == gen+1 {
					// Nothing but this delta since cur was read: what it
					// did not touch is as read.
					res.Generation = after
					got, err := readAfterDelta(conns, cur, changed)
					if err != nil {
						return res, fmt.Errorf("read table inet %s back after applying: %w", TableName, err)
					}
					return res, verify(&res, got, expected, nil)
				}
			}
		}
	}
	if !sent {
		full, err := want.batch(msgs)
		if err != nil {
			// The failed message was not queued: sending would send half
			// a ruleset. Nothing has been sent.
			return res, fmt.Errorf("prepare nftables batch (nothing was changed): %w", err)
		}
		flushErr = conns.rules.sendBatch(full, 0)
	}
	if flushErr != nil && !errors.Is(flushErr, syscall.ENOBUFS) {
		return res, fmt.Errorf("apply table inet %s (the transaction was rejected, the previous ruleset is still in place): %w", TableName, flushErr)
	}
	// ENOBUFS means the kernel may have committed without our reading its
	// answer: the read-back decides.
	res.Generation, res.GenerationErr = conns.structure.generation()
	got, err := conns.current()
	if err != nil {
		return res, fmt.Errorf("read table inet %s back after applying: %w", TableName, err)
	}
	return res, verify(&res, got, expected, flushErr)
}

// Remove deletes table inet zonegate, if it exists.
func Remove(t Target) error {
	conn, err := t.conn()
	if err != nil {
		return err
	}
	defer conn.CloseLasting()
	tbl := newTable()
	conn.AddTable(tbl)
	conn.DelTable(tbl)
	if err := conn.Flush(); err != nil {
		return fmt.Errorf("delete table inet %s: %w", TableName, err)
	}
	return nil
}

func isNotExist(err error) bool {
	return errors.Is(err, syscall.ENOENT)
}
