// Package ipset holds lists of IP addresses and CIDR ranges, as Prosody
// options such as trusted_proxies, http_health_allow_ips and Jitsi's
// rate_limit_whitelist give them, and answers whether an address is in
// one.
package ipset

import (
	"fmt"
	"net/netip"
	"strings"
)

// Set is a list of address ranges; a single address is a range of one.
// The zero Set contains nothing.
type Set []netip.Prefix

// Parse reads addresses ("127.0.0.1", "::1") and CIDR ranges
// ("10.0.0.0/8"; host bits are ignored). IPv4-mapped IPv6 addresses are
// read as IPv4.
func Parse(items []string) (Set, error) {
	s := make(Set, 0, len(items))
	for _, it := range items {
		it = strings.TrimSpace(it)
		if strings.Contains(it, "/") {
			p, err := netip.ParsePrefix(it)
			if err != nil {
				return nil, fmt.Errorf("%q is not an address or CIDR range", it)
			}
			s = append(s, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(it)
		if err != nil {
			return nil, fmt.Errorf("%q is not an address or CIDR range", it)
		}
		a = a.Unmap()
		s = append(s, netip.PrefixFrom(a, a.BitLen()))
	}
	return s, nil
}

// Contains reports whether addr (unmapped, without its zone) is in one of
// the set's ranges.
func (s Set) Contains(addr netip.Addr) bool {
	addr = addr.Unmap().WithZone("")
	for _, p := range s {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}
