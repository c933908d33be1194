//go:build unix

package server

import (
	"net"
	"syscall"
)

// WaitReadable blocks until conn has bytes to read (or has failed, been
// closed by the peer or passed its read deadline: the next Read reports
// that), without reading them. An idle session's reader waits here, a few
// frames deep, instead of inside the XML decoder, so the runtime can shrink
// its goroutine stack to the minimum while the session is idle (the
// decoder's call chain kept 8 KiB per idle session).
//
// Transports call it between messages, when their own read buffer is
// empty. Only connections whose bytes nobody else buffers above the socket
// are waited on: a TLS connection may hold decrypted bytes the socket no
// longer shows (it has no syscall.Conn, so WaitReadable returns at once).
func WaitReadable(conn net.Conn) {
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return
	}
	var peek [1]byte
	polled := false
	_ = rc.Read(func(fd uintptr) bool {
		if polled {
			// The poller reported the socket readable; a spurious
			// wake-up only means the decoder's Read waits instead.
			return true
		}
		polled = true
		_, _, err := syscall.Recvfrom(int(fd), peek[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		return err != syscall.EAGAIN && err != syscall.EWOULDBLOCK
	})
}
