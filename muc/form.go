package muc

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/parley-xmpp/parley/server/stanza"
)

// Form is a XEP-0004 data form. Fields keep their order; the MUC config
// form is built by the muc-config-form hooks, each adding its fields.
type Form struct {
	// Type is form, submit, result or cancel.
	Type         string
	Title        string
	Instructions string
	Fields       []*Field
}

// Field is one field of a Form. A field with an empty Var is a label
// (type fixed) that no submission can address.
type Field struct {
	Var   string
	Type  string // text-single when empty
	Label string
	Desc  string
	// Values are the field's values; none is rendered as no <value/>.
	Values []string
	// Options are the choices of a list field.
	Options []FieldOption
	// Datatype is the XEP-0122 datatype (xs:integer), rendered as
	// <validate/> in forms of type form.
	Datatype string
	Required bool
}

// FieldOption is one choice of a list-single or list-multi field.
type FieldOption struct {
	Label string
	Value string
}

// FieldType returns the field's type, text-single when unset.
func (f *Field) FieldType() string {
	if f.Type == "" {
		return "text-single"
	}
	return f.Type
}

// Value returns the first value, or "".
func (f *Field) Value() string {
	if len(f.Values) == 0 {
		return ""
	}
	return f.Values[0]
}

// NewForm returns a form of type typ whose hidden FORM_TYPE field is
// formType (none when empty).
func NewForm(typ, formType string) *Form {
	f := &Form{Type: typ}
	if formType != "" {
		f.Add(&Field{Var: "FORM_TYPE", Type: "hidden", Values: []string{formType}})
	}
	return f
}

// Add appends fields and returns f.
func (f *Form) Add(fields ...*Field) *Form {
	f.Fields = append(f.Fields, fields...)
	return f
}

// Field returns the field named v, or nil.
func (f *Form) Field(v string) *Field {
	if f == nil || v == "" {
		return nil
	}
	for _, fl := range f.Fields {
		if fl.Var == v {
			return fl
		}
	}
	return nil
}

// FormType returns the value of the hidden FORM_TYPE field, or "".
func (f *Form) FormType() string {
	if fl := f.Field("FORM_TYPE"); fl != nil {
		return fl.Value()
	}
	return ""
}

// Element renders the form as Prosody's util.dataforms does: labels,
// descriptions, options and validation only in forms of type form (labels
// also in results), title and instructions except in submissions.
func (f *Form) Element() *stanza.Element {
	typ := f.Type
	if typ == "" {
		typ = "form"
	}
	x := stanza.New(NSDataForms, "x").Set("type", typ)
	if typ == "cancel" {
		return x
	}
	if typ != "submit" {
		if f.Title != "" {
			x.Add(stanza.New(NSDataForms, "title").AddText(f.Title))
		}
		if f.Instructions != "" {
			x.Add(stanza.New(NSDataForms, "instructions").AddText(f.Instructions))
		}
	}
	for _, fl := range f.Fields {
		el := stanza.New(NSDataForms, "field").Set("type", fl.FieldType()).Set("var", fl.Var)
		if typ != "submit" {
			el.Set("label", fl.Label)
			if fl.Desc != "" {
				el.Add(stanza.New(NSDataForms, "desc").AddText(fl.Desc))
			}
		}
		if typ == "form" && fl.Datatype != "" {
			el.Add(stanza.New(NSValidate, "validate").Set("datatype", fl.Datatype))
		}
		if typ == "form" {
			for _, o := range fl.Options {
				opt := stanza.New(NSDataForms, "option").Set("label", o.Label)
				opt.Add(stanza.New(NSDataForms, "value").AddText(o.Value))
				el.Add(opt)
			}
		}
		for _, v := range fl.Values {
			el.Add(stanza.New(NSDataForms, "value").AddText(v))
		}
		if typ == "form" && fl.Required {
			el.Add(stanza.New(NSDataForms, "required"))
		}
		x.Add(el)
	}
	return x
}

// errNotForm is returned by ParseForm for an element that is not a form.
var errNotForm = errors.New("muc: not a jabber:x:data form")

// maxFormFields bounds the fields ParseForm accepts from one form.
const maxFormFields = 256

// ParseForm reads a <x xmlns='jabber:x:data'/> element.
func ParseForm(x *stanza.Element) (*Form, error) {
	if x == nil || x.Name.Space != NSDataForms || x.Name.Local != "x" {
		return nil, errNotForm
	}
	f := &Form{Type: x.Get("type")}
	switch f.Type {
	case "form", "submit", "result", "cancel":
	default:
		return nil, fmt.Errorf("muc: form type %q: %w", f.Type, errNotForm)
	}
	f.Title = x.ChildText(NSDataForms, "title")
	f.Instructions = x.ChildText(NSDataForms, "instructions")
	for _, c := range x.Elements() {
		if c.Name.Space != NSDataForms || c.Name.Local != "field" {
			continue
		}
		if len(f.Fields) >= maxFormFields {
			return nil, fmt.Errorf("muc: form has more than %d fields", maxFormFields)
		}
		fl := &Field{Var: c.Get("var"), Type: c.Get("type"), Label: c.Get("label")}
		for _, v := range c.Elements() {
			if v.Name.Space != NSDataForms && v.Name.Space != NSValidate {
				continue
			}
			switch v.Name.Local {
			case "value":
				fl.Values = append(fl.Values, v.Text())
			case "desc":
				fl.Desc = v.Text()
			case "required":
				fl.Required = true
			case "option":
				fl.Options = append(fl.Options, FieldOption{Label: v.Get("label"), Value: v.ChildText(NSDataForms, "value")})
			case "validate":
				fl.Datatype = v.Get("datatype")
			}
		}
		f.Fields = append(f.Fields, fl)
	}
	return f, nil
}

// Submission is a submitted form read against the layout it answers, as
// Prosody's dataforms data() does: only fields of the layout count, and
// values are read according to the layout's field types.
type Submission struct {
	// Layout is the form the submission answers (the room config form
	// built for the submitter).
	Layout *Form
	values map[string][]string
	order  []string
}

// NewSubmission reads sub against layout.
func NewSubmission(layout, sub *Form) *Submission {
	s := &Submission{Layout: layout, values: map[string][]string{}}
	for _, lf := range layout.Fields {
		if lf.Var == "" {
			continue
		}
		sf := sub.Field(lf.Var)
		if sf == nil {
			continue
		}
		s.values[lf.Var] = sf.Values
		s.order = append(s.order, lf.Var)
	}
	return s
}

// Fields lists the submitted fields in layout order.
func (s *Submission) Fields() []string { return slices.Clone(s.order) }

// Has reports whether field v was submitted (and not dropped).
func (s *Submission) Has(v string) bool {
	_, ok := s.values[v]
	return ok
}

// Drop removes a submitted field so that no later handler applies it
// (Jitsi's way to make a field read-only).
func (s *Submission) Drop(v string) {
	delete(s.values, v)
	s.order = slices.DeleteFunc(s.order, func(o string) bool { return o == v })
}

// Strings returns the submitted values of v.
func (s *Submission) Strings(v string) []string { return slices.Clone(s.values[v]) }

// String returns the first submitted value of v, or "".
func (s *Submission) String(v string) string {
	if vs := s.values[v]; len(vs) > 0 {
		return vs[0]
	}
	return ""
}

// Bool returns the boolean value of v: "1" and "true" are true, anything
// else (including no value) false, as Prosody treats an unreadable value.
func (s *Submission) Bool(v string) bool {
	switch strings.TrimSpace(s.String(v)) {
	case "1", "true":
		return true
	}
	return false
}

// Int returns the integer value of v and whether it is one.
func (s *Submission) Int(v string) (int, bool) {
	n, err := strconv.Atoi(strings.TrimSpace(s.String(v)))
	return n, err == nil
}

// boolValues renders a boolean field value that Prosody always shows.
func boolValues(b bool) []string {
	if b {
		return []string{"1"}
	}
	return []string{"0"}
}

// optBoolValues renders a boolean Prosody keeps as true-or-nil: false has
// no <value/>.
func optBoolValues(b bool) []string {
	if b {
		return []string{"1"}
	}
	return nil
}

// optText renders a text value Prosody keeps as string-or-nil.
func optText(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}
