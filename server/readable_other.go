//go:build !unix

package server

import "net"

// WaitReadable is a no-op where the socket cannot be polled without
// reading: the reader waits inside the decoder.
func WaitReadable(net.Conn) {}
