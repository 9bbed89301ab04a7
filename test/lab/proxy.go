package lab

import (
	"bufio"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"

	"github.com/zonegate/zonegate/firewall"
	"github.com/zonegate/zonegate/protocols/modbus/modbusrules"
)

var redirectRE = regexp.MustCompile(`redirect to :(\d+)`)

// ModbusProxyPort returns the port the gateway's ruleset redirects
// inspected conduits to, read with `nft list table inet zonegate` in the
// gateway namespace; modbusrules.Protocol.DefaultPort when it cannot tell
// (no nft, no ruleset, no inspected conduit).
func (l *Lab) ModbusProxyPort() uint16 {
	out, err := Command(l.Gateway, "nft", "list", "table", "inet", firewall.TableName).Output()
	if err != nil {
		return modbusrules.Protocol.DefaultPort
	}
	if m := redirectRE.FindSubmatch(out); m != nil {
		if p, err := strconv.ParseUint(string(m[1]), 10, 16); err == nil && p != 0 {
			return uint16(p)
		}
	}
	return modbusrules.Protocol.DefaultPort
}

// ModbusProxyListening reports whether a TCP socket listens on port in
// the gateway namespace: a connection redirected to the Modbus proxy can
// only be accepted then.
func (l *Lab) ModbusProxyListening(port uint16) (bool, error) {
	var found bool
	err := Do(l.Gateway, func() error {
		// /proc/thread-self/net shows the namespace of this thread.
		for _, f := range []string{"/proc/thread-self/net/tcp", "/proc/thread-self/net/tcp6"} {
			ok, err := listensOn(f, port)
			if err != nil {
				return err
			}
			found = found || ok
		}
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("look for the Modbus proxy in %s: %w", l.Gateway, err)
	}
	return found, nil
}

// listensOn scans a /proc/net/tcp table for a socket in state LISTEN
// (0A) on port.
func listensOn(path string, port uint16) (bool, error) {
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return false, nil // no IPv6 in this kernel
	}
	if err != nil {
		return false, err
	}
	defer f.Close()
	want := fmt.Sprintf(":%04X", port)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 3 && fields[3] == "0A" && strings.HasSuffix(fields[1], want) {
			return true, nil
		}
	}
	return false, sc.Err()
}
