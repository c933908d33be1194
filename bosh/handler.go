package bosh

import (
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	"mellium.im/xmpp/stream"

	"github.com/parley-xmpp/parley/server"
	"github.com/parley-xmpp/parley/server/httpx"
)

// ServeHTTP serves the BOSH endpoint: POST carries <body/> requests, GET
// answers with a short page, OPTIONS is a CORS preflight, and other methods
// get 405 (SECURITY-CASES #59).
func (m *Module) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !m.gate.Allows(r) {
		http.NotFound(w, r)
		return
	}
	switch r.Method {
	case http.MethodPost:
		m.cors.Apply(w.Header(), r.Header.Get("Origin"))
		m.post(w, r)
	case http.MethodGet, http.MethodHead:
		m.cors.Apply(w.Header(), r.Header.Get("Origin"))
		_, secure := m.settings.Proxies.Client(r)
		httpx.InfoPage(w, r, "parley BOSH endpoint", "It works! Now point your BOSH client to this URL to connect to parley.", m.secure || secure)
	case http.MethodOptions:
		m.cors.Preflight(w, r)
	default:
		w.Header().Set("Allow", "GET, HEAD, POST, OPTIONS")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

// post handles one BOSH request. Whatever the Content-Type, the body is
// read as XML and the answer is text/xml (SECURITY-CASES #55).
func (m *Module) post(w http.ResponseWriter, r *http.Request) {
	// The body must arrive within ioTimeout (the HTTP server only bounds
	// the headers); the deadline is lifted afterwards, since the server's
	// background read, which notices a client going away while its
	// request is held, would otherwise cancel the request at the deadline.
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Now().Add(ioTimeout))
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, m.maxBody))
	_ = rc.SetReadDeadline(time.Time{})
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			// SECURITY-CASES #54.
			http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
			return
		}
		m.log.Debug("reading BOSH request failed", "err", err, "remote", r.RemoteAddr)
		return
	}
	rq, err := parseRequest(data, m.limits)
	if err != nil {
		// Malformed or restricted XML, a wrong root, or a bad rid
		// (SECURITY-CASES #42, #53). A session named by an unreadable body
		// is not touched: it times out if the client gives up.
		m.log.Debug("bad BOSH request", "err", err, "remote", r.RemoteAddr)
		writeBody(w, terminateBody(condBadRequest))
		return
	}
	ctx := r.Context()
	if rq.sid == "" {
		remote, secure := m.settings.Proxies.Client(r)
		release, ok := m.srv.AcquireConn(remote)
		if !ok {
			server.RefuseOverLimit(w)
			return
		}
		wt, b, body := m.create(ctx, rq, remote, secure, httpx.Params(r, m.settings.RegionHeader))
		if b != nil {
			b.s.OnClose(release)
		} else {
			release()
		}
		if body == nil {
			body = b.await(ctx, wt)
		}
		writeBody(w, body)
		return
	}
	b := m.lookup(rq.sid)
	if b == nil {
		// Prosody answers an unknown sid with 200 and a terminate body
		// (SECURITY-CASES #43).
		writeBody(w, terminateBody(condItemNotFound))
		return
	}
	if _, secure := m.settings.Proxies.Client(r); b.secure && !secure && !m.secure {
		// A session made over HTTPS continued over plain HTTP: drop the
		// connection unanswered and leave the session alone (SECURITY-CASES
		// #56). A new address is fine: sessions are not bound to one.
		panic(http.ErrAbortHandler)
	}
	// Over its byte rates, the client's request waits before it is
	// handled (mod_limits semantics: paused, not dropped).
	_ = b.s.ThrottleIn(ctx, len(data))
	wt, body := b.receive(ctx, rq)
	if body == nil {
		body = b.await(ctx, wt)
	}
	writeBody(w, body)
}

// ioTimeout bounds reading a request body and writing a response.
const ioTimeout = 30 * time.Second

// writeBody writes a response body; nil means the client went away.
func writeBody(w http.ResponseWriter, body []byte) {
	if body == nil {
		return
	}
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(ioTimeout))
	h := w.Header()
	h.Set("Content-Type", "text/xml; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

// streamErr returns base with an English text.
func streamErr(base stream.Error, text string) stream.Error {
	e := base
	e.Text = []struct {
		Lang  string
		Value string
	}{{Lang: "en", Value: text}}
	return e
}
