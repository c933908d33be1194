package jitsi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/parley-xmpp/parley/muc"
	"github.com/parley-xmpp/parley/server"
	"github.com/parley-xmpp/parley/server/stanza"
)

// FileSharingType is the component type of Jitsi's file sharing
// component, as in `Component "filesharing.example.com"
// "filesharing_component"`.
const FileSharingType = "filesharing_component"

// FileSharingIdentity is the identity type the component announces on the
// main host, the name of the element clients send and the "type" of its
// json-messages.
const FileSharingIdentity = "file-sharing"

// fsKey keys the per-room shared files (room.jitsi_shared_files).
type fsKey struct{}

// fsFiles maps file ids to the file objects clients described.
type fsFiles map[string]map[string]any

// FileSharing is Jitsi's mod_filesharing_component (JITSI.md §3
// filesharing_component, P2). The component only keeps the list of files
// shared in each room of the muc_component MUC (the files themselves live
// elsewhere). An occupant whose token grants the file-upload feature (or,
// without token features, an owner) sends
//
//	<message><file-sharing xmlns="http://jitsi.org/jitmeet" type="add">{"fileId":...}</file-sharing></message>
//	<message><file-sharing xmlns="http://jitsi.org/jitmeet" type="remove" fileId="..."/></message>
//
// to the component (the room comes from its session's room/prefix
// parameters). Added files get the author fields set by the server
// (authorParticipantId, authorParticipantJid, authorParticipantName,
// conferenceFullName); every other occupant but admins (jicofo) gets
// {"type":"file-sharing","event":"add","file":{...}} or {"event":"remove",
// "fileId":...}; joiners get {"event":"list","files":{id: file}}. Others
// get an auth/forbidden error; malformed JSON is logged and ignored. The
// visitor-node variant is not ported.
type FileSharing struct {
	*jcomp
	mucDomain string
}

var _ server.Component = (*FileSharing)(nil)

// FileSharingFactory returns the server.ComponentFactory for
// filesharing_component sections.
func FileSharingFactory() server.ComponentFactory {
	return componentFactory(NewFileSharing)
}

// NewFileSharing builds the component of one section. Like the Lua module
// it only logs without muc_component or muc_mapper_domain_base.
func NewFileSharing(ch *server.ComponentHost) (*FileSharing, error) {
	f := &FileSharing{jcomp: newJcomp(ch, FileSharingType)}
	f.mucDomain = f.option(OptMUCComponent)
	switch {
	case f.mucDomain == "":
		f.log.Error("no muc_component specified, no MUC to operate on")
		return f, nil
	case f.base == "":
		f.log.Warn("no muc_mapper_domain_base option set, file sharing disabled")
		f.mucDomain = ""
		return f, nil
	}
	WhenMUC(f.srv, f.mucDomain, FileSharingType, func(s *muc.Service) {
		s.Events.OccupantJoined.On(-10, FileSharingType, f.occupantJoined)
	})
	AnnounceComponent(f.srv, f.sec, FileSharingIdentity, f.domain)
	return f, nil
}

// Deliver implements server.Component: add and remove requests.
func (f *FileSharing) Deliver(ctx context.Context, el *stanza.Element) {
	if f.unhandledIQ(ctx, el) || el.Name.Local != "message" || el.Get("type") == "error" || f.mucDomain == "" {
		return
	}
	from := el.Get("from")
	sess := f.session(from)
	roomJID, ok := f.sessionRoom(sess, f.mucDomain)
	if !ok {
		return
	}
	req := el.Child(NSJitMeet, FileSharingIdentity)
	svc := f.muc(f.mucDomain)
	if req == nil || svc == nil {
		return
	}
	forbidden := false
	err := svc.Do(ctx, roomJID, func(r *muc.Room) { forbidden = f.request(r, from, sess, req) })
	if err != nil {
		f.log.Warn("no room found for a file sharing request", "room", roomJID, "from", from, "err", err)
		return
	}
	if forbidden {
		f.reply(ctx, el, "auth", "forbidden", "")
	}
}

// request handles one request on a held room; true means forbidden.
func (f *FileSharing) request(r *muc.Room, from string, sess *server.Session, req *stanza.Element) bool {
	occ := r.OccupantByRealJID(from)
	if occ == nil {
		f.log.Warn("file sharing request from a non-occupant", "from", from, "room", r.JID())
		return false
	}
	if !f.uploadAllowed(r, from, sess) {
		return true
	}
	switch req.Get("type") {
	case "add":
		file, key, err := parseSharedFile(req.Text())
		if err != nil {
			f.log.Error("invalid file sharing request", "from", from, "room", r.JID(), "err", err)
			return false
		}
		file["authorParticipantId"] = occupantResource(occ.JID)
		file["authorParticipantJid"] = from
		file["authorParticipantName"] = "anonymous"
		if p := occ.Presence(); p != nil {
			if n := p.Child(nsNickPolls, "nick"); n != nil {
				file["authorParticipantName"] = n.Text()
			}
		}
		file["conferenceFullName"] = f.mapper.ToExternal(r.JID())
		files, _ := r.Value(fsKey{}).(fsFiles)
		if files == nil {
			files = fsFiles{}
			r.SetValue(fsKey{}, files)
		}
		files[key] = file
		f.toOthers(r, occ, map[string]any{"type": FileSharingIdentity, "event": "add", "file": file})
	case "remove":
		id := req.Get("fileId")
		if id == "" {
			f.log.Error("file sharing remove without fileId", "from", from, "room", r.JID())
			return false
		}
		files, _ := r.Value(fsKey{}).(fsFiles)
		if files == nil {
			return false
		}
		delete(files, id)
		f.toOthers(r, occ, map[string]any{"type": FileSharingIdentity, "event": "remove", "fileId": id})
	}
	return false
}

// uploadAllowed is is_feature_allowed('file-upload', token features,
// owner): the token's features decide when it has any, else the
// affiliation.
func (f *FileSharing) uploadAllowed(r *muc.Room, from string, sess *server.Session) bool {
	if cl := SessionClaims(sess); cl != nil && cl.Context != nil && cl.Context.Features != nil {
		return cl.Feature("file-upload")
	}
	return r.Affiliation(from) == muc.AffiliationOwner
}

// parseSharedFile decodes the JSON object of an add request; it must have
// a non-null fileId. key is the map key for the id.
func parseSharedFile(text string) (map[string]any, string, error) {
	dec := json.NewDecoder(bytes.NewReader([]byte(text)))
	dec.UseNumber()
	var file map[string]any
	if err := dec.Decode(&file); err != nil {
		return nil, "", fmt.Errorf("jitsi: shared file: %w", err)
	}
	if dec.More() {
		return nil, "", errors.New("jitsi: shared file: trailing data")
	}
	switch id := file["fileId"].(type) {
	case nil:
		return nil, "", errors.New("jitsi: shared file: fileId missing")
	case string:
		return file, id, nil
	default:
		b, err := json.Marshal(id)
		if err != nil {
			return nil, "", fmt.Errorf("jitsi: shared file id: %w", err)
		}
		return file, string(b), nil
	}
}

// toOthers sends payload to every occupant but admins and the actor.
func (f *FileSharing) toOthers(r *muc.Room, actor *muc.Occupant, payload any) {
	for _, o := range r.Occupants() {
		if o != actor && o.JID != actor.JID && !f.isAdmin(o.BareJID) {
			f.sendJSON(r, o.RealJID(), payload)
		}
	}
}

// occupantJoined sends the shared files to a joiner.
func (f *FileSharing) occupantJoined(_ context.Context, ev *muc.OccupantEvent) error {
	files, _ := ev.Room.Value(fsKey{}).(fsFiles)
	if len(files) == 0 || f.isAdmin(ev.Occupant.BareJID) {
		return nil
	}
	f.sendJSON(ev.Room, ev.Occupant.RealJID(), map[string]any{"type": FileSharingIdentity, "event": "list", "files": files})
	return nil
}
