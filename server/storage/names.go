package storage

import "strings"

const hexDigits = "0123456789abcdef"

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

func encodeWith(s string, keep func(byte) bool) string {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if keep(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&0xf])
	}
	return b.String()
}

// EncodeName encodes a host or user name for use as a file name the way
// Prosody's datamanager does (Lua pattern "%W"): every byte other than an
// ASCII letter or digit becomes "%" and two lowercase hex digits, so
// "conference.meet.jitsi" is "conference%2emeet%2ejitsi" and "a-b" is "a%2db".
func EncodeName(s string) string {
	return encodeWith(s, isAlnum)
}

// EncodeStoreName encodes a store name as Prosody does: like EncodeName, but
// "_" is kept ("muc_log" stays "muc_log").
func EncodeStoreName(s string) string {
	return encodeWith(s, func(c byte) bool { return isAlnum(c) || c == '_' })
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// DecodeName reverses EncodeName and EncodeStoreName: every "%" followed by
// two hex digits (either case) becomes that byte; anything else is kept.
func DecodeName(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) {
			hi, ok1 := unhex(s[i+1])
			lo, ok2 := unhex(s[i+2])
			if ok1 && ok2 {
				b.WriteByte(hi<<4 | lo)
				i += 2
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
