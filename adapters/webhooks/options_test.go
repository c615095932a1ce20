package webhooks

import (
	"errors"
	"strings"
	"testing"

	"github.com/interaction-ledger/ledger/domain"
)

func TestOptionsCustomer(t *testing.T) {
	mapped := func(id string, ok bool) func(string) (string, bool) {
		return func(string) (string, bool) { return id, ok }
	}
	tests := []struct {
		name string
		o    Options
		want string
	}{
		{"no map: the key", Options{}, "tel:+33612345678"},
		{"mapped", Options{MapCustomer: mapped("cust-42", true)}, "cust-42"},
		{"not mapped: the key", Options{MapCustomer: mapped("cust-42", false)}, "tel:+33612345678"},
		{"mapped to nothing: the key", Options{MapCustomer: mapped("", true)}, "tel:+33612345678"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.o.Customer("tel:+33612345678"); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestOptionsDefaultsAndChecks(t *testing.T) {
	var o Options
	o.SetDefaults("asterisk", 1<<20)
	if o.Source != "asterisk" || o.MaxBody != 1<<20 {
		t.Errorf("defaults: got %q %d, want asterisk %d", o.Source, o.MaxBody, 1<<20)
	}
	o = Options{Source: "pbx-paris", MaxBody: 5}
	o.SetDefaults("asterisk", 1<<20)
	if o.Source != "pbx-paris" || o.MaxBody != 5 {
		t.Errorf("set values: got %q %d, want them kept", o.Source, o.MaxBody)
	}
	p := NewProblems("asterisk")
	Options{MaxBody: -1}.Check(p)
	p.Secret("Token (LEDGER_CDR_TOKEN)", "abc", MinTokenLen)
	err := p.Err()
	if err == nil || !errors.Is(err, ErrSecretTooShort) {
		t.Fatalf("got %v, want both problems, the secret's wrapping ErrSecretTooShort", err)
	}
	for _, want := range []string{"asterisk: MaxBody -1", "asterisk: Token (LEDGER_CDR_TOKEN)"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("got %q, want it to report %q", err, want)
		}
	}
	if err := NewProblems("asterisk").Err(); err != nil {
		t.Errorf("no problem: got %v", err)
	}
}

func TestClicked(t *testing.T) {
	tests := []struct {
		name, url, want string
	}{
		{"kept", "https://shop.example.com/o/1", "https://shop.example.com/o/1"},
		{"none", "", ""},
		{"too long: dropped, not cut", "https://x.example/" + strings.Repeat("a", domain.MaxURLBytes), ""},
		{"not UTF-8: dropped", "https://x.example/\xff", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Clicked("m-1", tt.url)
			if d.InteractionID != "m-1" || d.URL != tt.want {
				t.Errorf("got %+v, want url %q", d, tt.want)
			}
		})
	}
}
