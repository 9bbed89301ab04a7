// Package origdst reads the original destination of a TCP connection that
// netfilter NAT (an nftables redirect or dnat) sent to a local proxy. It is
// protocol-neutral: every inspecting proxy of the gateway routes its
// connections with it.
package origdst
