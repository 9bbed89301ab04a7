package opcuatcp

import (
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"fmt"

	"github.com/zonegate/zonegate/protocols/inspect"
	"github.com/zonegate/zonegate/protocols/opcua"
	"github.com/zonegate/zonegate/protocols/opcua/uacert"
	"github.com/zonegate/zonegate/protocols/proxy"
)

// Inspector is OPC UA under the daemon's protocol-neutral contract: what
// the gateway registers for `inspect: opcua`.
type Inspector struct{}

var _ proxy.Inspector = Inspector{}

// Protocol implements proxy.Inspector.
func (Inspector) Protocol() inspect.Protocol { return opcua.Info }

// Compile implements proxy.Inspector: rules is the conduit's *opcua.Spec.
// It reads the CA and CRL files the block names, so a missing or bad
// file fails the apply with the file's name.
func (Inspector) Compile(rules any) (proxy.Policy, error) {
	spec, ok := rules.(*opcua.Spec)
	if !ok || spec == nil {
		return nil, fmt.Errorf("opcua inspector: the conduit's rules are %T, not an *opcua.Spec: the conduit needs an `opcua:` block", rules)
	}
	certs, err := uacert.Load(spec.ClientCertificates)
	if err != nil {
		return nil, err
	}
	return opcua.Compile(*spec, certs)
}

// NewProxy implements proxy.Inspector.
func (Inspector) NewProxy(cfg proxy.Config) (proxy.Proxy, error) { return proxy.New(cfg, Codec{}) }

// Details implements proxy.Codec: a Write or Call's service and what it
// writes or calls; an opened channel's security policy, certificate
// fingerprint (SHA-256) and subject.
func (Codec) Details(ev *inspect.Event) map[string]string {
	data := ev.Bytes()
	if len(data) < 1 {
		return nil
	}
	switch data[0] {
	case dataWrite:
		svc := "Write"
		if ev.Summary.Len() > 0 {
			s := ev.Summary.String()
			if len(s) > 4 {
				svc = s[4:] // "MSG Call"
			}
		}
		return map[string]string{"service": svc, "operations": string(data[1:])}
	case dataOpened:
		if len(data) < 34 {
			return nil
		}
		d := map[string]string{
			"security_policy": opcua.SecurityPolicy(data[1]).String(),
			"fingerprint":     "sha256:" + hex.EncodeToString(data[2:34]),
		}
		var rdn pkix.RDNSequence
		if rest, err := asn1.Unmarshal(data[34:], &rdn); err == nil && len(rest) == 0 {
			var name pkix.Name
			name.FillFromRDNSequence(&rdn)
			d["subject"] = name.String()
		} else {
			d["subject"] = "(not shown: longer than the event holds)"
		}
		return d
	}
	return nil
}
