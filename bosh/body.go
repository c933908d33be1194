package bosh

import (
	"errors"
	"strconv"
	"strings"

	"github.com/parley-xmpp/parley/server/stanza"
)

// BOSH terminal conditions (XEP-0124 §17.2) used here.
const (
	condBadRequest         = "bad-request"
	condImproperAddressing = "improper-addressing"
	condItemNotFound       = "item-not-found"
	condPolicyViolation    = "policy-violation"
	condRemoteStreamError  = "remote-stream-error"
	condSystemShutdown     = "system-shutdown"
)

// errBadRequest marks a request the client framed wrongly.
var errBadRequest = errors.New("bosh: bad request")

// request is one parsed <body/> from the client.
type request struct {
	body      *stanza.Element
	sid       string
	rid       int64
	to        string
	lang      string
	wait      int64 // session creation; -1 if absent
	hold      int64 // session creation; -1 if absent
	ver       string
	xmppVer   string
	restart   bool
	terminate bool
	ack       int64 // -1 if absent
	pause     bool
	size      int // bytes of the HTTP body
}

// parseRequest parses an HTTP request body as a <body/> with restricted XML
// and lim, and reads its attributes. A malformed body, a wrong root, or a
// missing or invalid rid is errBadRequest (wrapped).
func parseRequest(data []byte, lim stanza.Limits) (*request, error) {
	el, err := stanza.Parse(data, lim)
	if err != nil {
		return nil, errors.Join(errBadRequest, err)
	}
	if el.Name.Local != "body" || el.Name.Space != NS {
		return nil, errors.Join(errBadRequest, errors.New("bosh: root is not <body xmlns='"+NS+"'/>"))
	}
	rq := &request{body: el, sid: el.Get("sid"), to: el.Get("to"), lang: el.Lang(), ver: el.Get("ver"), wait: -1, hold: -1, ack: -1, size: len(data)}
	if rq.rid, err = parseUint(el.Get("rid"), MaxRID); err != nil {
		return nil, errors.Join(errBadRequest, errors.New("bosh: invalid rid"))
	}
	if el.Has("wait") {
		if rq.wait, err = parseUint(el.Get("wait"), 1<<31); err != nil {
			return nil, errors.Join(errBadRequest, errors.New("bosh: invalid wait"))
		}
	}
	if el.Has("hold") {
		if rq.hold, err = parseUint(el.Get("hold"), 1<<31); err != nil {
			return nil, errors.Join(errBadRequest, errors.New("bosh: invalid hold"))
		}
	}
	if el.Has("ack") {
		// An unusable ack is ignored rather than fatal: it only trims the
		// response cache.
		if a, err := parseUint(el.Get("ack"), MaxRID); err == nil {
			rq.ack = a
		}
	}
	rq.terminate = el.Get("type") == "terminate"
	rq.pause = el.Has("pause")
	for _, a := range el.Attr {
		if a.Name.Space != NSXBOSH {
			continue
		}
		switch a.Name.Local {
		case "version":
			rq.xmppVer = a.Value
		case "restart":
			rq.restart = a.Value == "true" || a.Value == "1"
		}
	}
	return rq, nil
}

// parseUint reads a non-negative decimal integer not above max.
func parseUint(s string, max int64) (int64, error) {
	if s == "" || s[0] == '+' || s[0] == '-' || (len(s) > 1 && s[0] == '0') {
		// Only the canonical spelling: "007" and "7" must not be two
		// names for one rid (found by FuzzParseRequest).
		return 0, errBadRequest
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n > max {
		return 0, errBadRequest
	}
	return n, nil
}

// empty reports whether the request carries nothing but its rid: the kind
// of request the polling rules are about (XEP-0124 §11).
func (rq *request) empty() bool {
	return len(rq.body.Nodes) == 0 && !rq.restart && !rq.terminate && !rq.pause
}

// lowerVersion returns the lower of two "major.minor" versions; an
// unparseable or absent client version yields ours.
func lowerVersion(client, ours string) string {
	cm, cn, ok1 := splitVersion(client)
	om, on, _ := splitVersion(ours)
	if !ok1 || cm > om || (cm == om && cn >= on) {
		return ours
	}
	return client
}

func splitVersion(v string) (int, int, bool) {
	a, b, ok := strings.Cut(v, ".")
	if !ok {
		return 0, 0, false
	}
	x, err1 := strconv.Atoi(a)
	y, err2 := strconv.Atoi(b)
	if err1 != nil || err2 != nil || x < 0 || y < 0 {
		return 0, 0, false
	}
	return x, y, true
}

// Response bodies.

const bodyOpen = "<body xmlns='" + NS + "' xmlns:stream='" + stanza.NSStream + "'"

// attr appends name='value' with value escaped.
func attr(buf []byte, name, value string) []byte {
	buf = append(buf, ' ')
	buf = append(buf, name...)
	buf = append(buf, "='"...)
	for i := 0; i < len(value); i++ {
		switch c := value[i]; c {
		case '&':
			buf = append(buf, "&amp;"...)
		case '<':
			buf = append(buf, "&lt;"...)
		case '>':
			buf = append(buf, "&gt;"...)
		case '\'':
			buf = append(buf, "&apos;"...)
		case '"':
			buf = append(buf, "&quot;"...)
		default:
			buf = append(buf, c)
		}
	}
	return append(buf, '\'')
}

// appendBody appends a complete <body/> with the given extra attributes
// (name, value pairs) around payload.
func appendBody(buf []byte, attrs []string, payload [][]byte) []byte {
	buf = append(buf, bodyOpen...)
	for i := 0; i+1 < len(attrs); i += 2 {
		buf = attr(buf, attrs[i], attrs[i+1])
	}
	n := 0
	for _, p := range payload {
		n += len(p)
	}
	if n == 0 {
		return append(buf, "/>"...)
	}
	buf = append(buf, '>')
	for _, p := range payload {
		buf = append(buf, p...)
	}
	return append(buf, "</body>"...)
}

// terminateBody is a sessionless terminate response, as Prosody sends for
// unknown sids and unusable session requests.
func terminateBody(cond string) []byte {
	return appendBody(nil, []string{"type", "terminate", "condition", cond}, nil)
}
