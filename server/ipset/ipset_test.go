package ipset_test

import (
	"net/netip"
	"testing"

	"github.com/parley-xmpp/parley/server/ipset"
)

func TestSet(t *testing.T) {
	tests := []struct {
		name    string
		items   []string
		in, out []string
		err     bool
	}{
		{"addresses", []string{"127.0.0.1", "::1"}, []string{"127.0.0.1", "::1", "::ffff:127.0.0.1"}, []string{"127.0.0.2", "10.0.0.1"}, false},
		{"CIDR", []string{"10.0.0.0/8", "2001:db8::/32"}, []string{"10.255.1.2", "2001:db8::5"}, []string{"11.0.0.1", "2001:db9::1"}, false},
		{"unmasked CIDR", []string{" 192.168.1.77/24 "}, []string{"192.168.1.1"}, []string{"192.168.2.1"}, false},
		{"zone", []string{"fe80::/10"}, []string{"fe80::1%eth0"}, []string{"fec0::1"}, false},
		{"empty", nil, nil, []string{"127.0.0.1"}, false},
		{"garbage", []string{"localhost"}, nil, nil, true},
		{"bad CIDR", []string{"10.0.0.0/33"}, nil, nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := ipset.Parse(tc.items)
			if (err != nil) != tc.err {
				t.Fatalf("err = %v, want error %v", err, tc.err)
			}
			for _, a := range tc.in {
				if !s.Contains(netip.MustParseAddr(a)) {
					t.Errorf("%s not in %v", a, tc.items)
				}
			}
			for _, a := range tc.out {
				if s.Contains(netip.MustParseAddr(a)) {
					t.Errorf("%s in %v", a, tc.items)
				}
			}
		})
	}
}
