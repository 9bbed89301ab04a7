package firewall

import (
	"github.com/google/nftables"
)

// RuleMessages returns the data of the NEWRULE messages Apply sends for rs
// and of those google/nftables' AddRule marshals for the same rules.
func RuleMessages(rs *Ruleset) (ours, library [][]byte, err error) {
	k := toKernel(rs)
	rules, err := k.ruleMsgs()
	if err != nil {
		return nil, nil, err
	}
	msgs, err := k.batch(rules)
	if err != nil {
		return nil, nil, err
	}
	for _, m := range msgs {
		if m.Header.Type == newRuleType {
			ours = append(ours, m.Data)
		}
	}
	lib, err := capture(func(c *nftables.Conn) error {
		for _, r := range k.rules {
			c.AddRule(&nftables.Rule{Table: k.table, Chain: &nftables.Chain{Name: r.chain, Table: k.table}, Exprs: r.exprs, UserData: r.userData})
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	for _, m := range lib {
		if m.Header.Type == newRuleType {
			library = append(library, m.Data)
		}
	}
	return ours, library, nil
}

// ChainMessages returns the data of the NEWCHAIN messages Apply sends for
// rs and of those google/nftables' AddChain marshals for the same chains.
func ChainMessages(rs *Ruleset) (ours, library [][]byte, err error) {
	k := toKernel(rs)
	for _, m := range k.chainMsgs() {
		ours = append(ours, m.Data)
	}
	lib, err := capture(func(c *nftables.Conn) error {
		for _, ch := range k.chains {
			c.AddChain(ch)
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	for _, m := range lib {
		if m.Header.Type == newChainType {
			library = append(library, m.Data)
		}
	}
	return ours, library, nil
}
