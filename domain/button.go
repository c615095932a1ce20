package domain

import (
	"fmt"
	"net/url"
	"strings"
	"unicode"
)

// MaxButtonURLBytes bounds a button's URL template.
const MaxButtonURLBytes = 2048

// Button is one of the custom buttons of an agent's or a profile's My buttons: a label and
// a URL template whose placeholders name values of the interaction being viewed
// ({interaction_id}, {contact}, {customer_id}, {crm_record}, {case}, {agent_id},
// {queue_id}). Buttons reach the ledger on directory events, which validate them
// (CheckButtonURL); the stored ones are read back as they are.
type Button struct {
	Label string `json:"label"`
	URL   string `json:"url"`
}

// ButtonValues are the values of one interaction that fill a button's placeholders.
type ButtonValues struct {
	InteractionID string
	Contact       string
	CustomerID    string
	CRMRecord     string
	Case          string
	AgentID       string
	QueueID       string
}

// lookup returns the value of the placeholder name; ok is false for an unknown name.
func (v ButtonValues) lookup(name string) (string, bool) {
	switch name {
	case "interaction_id":
		return v.InteractionID, true
	case "contact":
		return v.Contact, true
	case "customer_id":
		return v.CustomerID, true
	case "crm_record":
		return v.CRMRecord, true
	case "case":
		return v.Case, true
	case "agent_id":
		return v.AgentID, true
	case "queue_id":
		return v.QueueID, true
	}
	return "", false
}

// urlPlace is where in a URL a placeholder stands, which decides how its value is escaped.
type urlPlace int

const (
	placePath urlPlace = iota
	placeQuery
	placeFragment
)

// templatePart is a literal run of a template (name == "") or one placeholder.
type templatePart struct {
	literal string
	name    string
	place   urlPlace
}

// parseButtonURL splits a template into literals and placeholders and checks it: only
// the http and https schemes, a host, no user information, no spaces or control
// characters, known placeholders only, and none before the path (a value may not choose
// the scheme or the host the button leads to). Errors name field.
func parseButtonURL(field, tmpl string) ([]templatePart, error) {
	if strings.TrimSpace(tmpl) == "" {
		return nil, invalid(field, "is required")
	}
	if err := checkText(field, tmpl, MaxButtonURLBytes); err != nil {
		return nil, err
	}
	if i := strings.IndexFunc(tmpl, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }); i >= 0 {
		return nil, invalid(field, "contains a space or control character at byte %d (escape it as %%20)", i)
	}
	var parts []templatePart
	var probe strings.Builder // the template with each placeholder as "x", to parse as a URL
	place := placePath
	for rest := tmpl; rest != ""; {
		open := strings.IndexAny(rest, "{}")
		if open < 0 {
			open = len(rest)
		}
		if lit := rest[:open]; lit != "" {
			for _, c := range lit {
				switch {
				case c == '?' && place == placePath:
					place = placeQuery
				case c == '#':
					place = placeFragment
				}
			}
			parts = append(parts, templatePart{literal: lit})
			probe.WriteString(lit)
			rest = rest[open:]
			continue
		}
		if rest[0] == '}' {
			return nil, invalid(field, "has a '}' without its '{' (placeholders are {name})")
		}
		end := strings.IndexByte(rest, '}')
		if end < 0 {
			return nil, invalid(field, "has a '{' without its '}' (placeholders are {name})")
		}
		name := rest[1:end]
		if _, ok := (ButtonValues{}).lookup(name); !ok {
			return nil, invalid(field, "has an unknown placeholder {%s} (allowed: {interaction_id}, {contact}, {customer_id}, {crm_record}, {case}, {agent_id}, {queue_id})", Clip(name))
		}
		if !pathStarted(probe.String()) {
			return nil, invalid(field, "has the placeholder {%s} before the path: the scheme and host must be written out", name)
		}
		parts = append(parts, templatePart{name: name, place: place})
		probe.WriteString("x")
		rest = rest[end+1:]
	}
	u, err := url.Parse(probe.String())
	if err != nil {
		return nil, invalid(field, "is not a URL: %v", err)
	}
	if u.Scheme != "https" && u.Scheme != "http" {
		return nil, invalid(field, "must be an https: or http: URL, not %q", Clip(u.Scheme+":"))
	}
	if u.Host == "" || u.Hostname() == "" {
		return nil, invalid(field, "has no host")
	}
	if u.User != nil {
		return nil, invalid(field, "must not carry user information (user@host)")
	}
	return parts, nil
}

// pathStarted reports whether the start of a template, up to a placeholder, has a scheme
// and host and has reached the path, query or fragment.
func pathStarted(prefix string) bool {
	k := strings.Index(prefix, "://")
	return k >= 0 && strings.ContainsAny(prefix[k+3:], "/?#")
}

// CheckButtons validates a directory record's buttons; field is the list's JSON path
// ("data.buttons"), and each error names the button's field.
func CheckButtons(field string, bs []Button) error {
	if len(bs) > MaxListItems {
		return invalid(field, "holds %d items, more than the %d allowed", len(bs), MaxListItems)
	}
	for i, b := range bs {
		f := fmt.Sprintf("%s[%d]", field, i)
		if strings.TrimSpace(b.Label) == "" {
			return invalid(f+".label", "is required")
		}
		if err := checkText(f+".label", b.Label, MaxTextBytes); err != nil {
			return err
		}
		if _, err := parseButtonURL(f+".url", b.URL); err != nil {
			return err
		}
	}
	return nil
}

// Expand returns the button's URL with its placeholders filled in from v, each value
// escaped for its place: a path segment (a "/" in a value stays inside its segment), a
// query component, or the fragment. An empty value leaves its place empty. The error is
// only for a template that was never validated.
func (b Button) Expand(v ButtonValues) (string, error) {
	parts, err := parseButtonURL("url", b.URL)
	if err != nil {
		return "", err
	}
	var out strings.Builder
	for _, p := range parts {
		if p.name == "" {
			out.WriteString(p.literal)
			continue
		}
		val, _ := v.lookup(p.name)
		switch p.place {
		case placeQuery:
			out.WriteString(url.QueryEscape(val))
		default:
			out.WriteString(url.PathEscape(val))
		}
	}
	return out.String(), nil
}

func (r *reader) buttons(bs []Button) []Button {
	if err := CheckButtons("data.buttons", bs); err != nil {
		r.fail(err)
	}
	return bs
}
