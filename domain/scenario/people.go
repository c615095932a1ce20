package scenario

import (
	"strconv"
	"strings"
)

// CustomerID names customer i (0-based) of a scenario: "cust-<i>". A few more customers
// exist for a while under a provider's contact key ("tel:+<E.164>") until a
// customer.merged folds them into theirs.
func CustomerID(i int) string { return "cust-" + strconv.Itoa(i) }

// person is what the scenario knows of a customer, derived from the seed and the
// customer's index so that nothing is stored per customer.
type person struct {
	first, last string
	nameIdx     int   // into Scenario.names
	country     uint8 // 0 US, 1 FR, 2 UK
	p1, p2, p3  int   // phone parts: US area/exchange/line, FR 9 digits, UK 8 digits
	mailNum     int   // -1: none
	domain      string
}

// splitmix64 is a bijective mixer (Steele et al.), used to derive a customer's stable
// attributes from the seed without storing them.
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

func (s *Scenario) person(c int) person {
	h := splitmix64(s.cfg.Seed ^ splitmix64(uint64(c)+1))
	g := splitmix64(h)
	fi, li := int(h%uint64(len(firstNames))), int((h>>8)%uint64(len(lastNames)))
	p := person{first: firstNames[fi], last: lastNames[li], nameIdx: fi*len(lastNames) + li}
	switch d := (h >> 16) % 10; {
	case d < 7:
		p.country = 0
		p.p1 = usAreas[(h>>20)%uint64(len(usAreas))]
		p.p2 = 200 + int((h>>28)%800)
		p.p3 = int((h >> 40) % 10000)
		p.domain = usDomains[g%uint64(len(usDomains))]
	case d < 9:
		p.country = 1
		p.p1 = []int{1, 2, 3, 4, 5, 6, 6, 7, 9}[(h>>20)%9]*100000000 + int((h>>28)%100000000)
		p.domain = frDomains[g%uint64(len(frDomains))]
	default:
		p.country = 2
		p.p1 = 70000000 + int((h>>28)%10000000)
		p.domain = ukDomains[g%uint64(len(ukDomains))]
	}
	p.mailNum = int((g >> 16) % 100)
	if (g>>24)%3 == 0 {
		p.mailNum = -1
	}
	return p
}

// e164 is the canonical form of the person's phone.
func (p person) e164() string {
	var b []byte
	switch p.country {
	case 0:
		b = append(b, "+1"...)
		b = pad(b, p.p1, 3)
		b = pad(b, p.p2, 3)
		b = pad(b, p.p3, 4)
	case 1:
		b = append(b, "+33"...)
		b = pad(b, p.p1, 9)
	default:
		b = append(b, "+4420"...)
		b = pad(b, p.p1, 8)
	}
	return string(b)
}

// phone writes the person's phone in one of the formats people and systems use:
// "+1 415 555 0123", "(415) 555-0123", "415-555-0123", "+14155550123", "415.555.0123",
// "+33 1 23 45 67 89", "+33123456789", "+44 20 7946 0958". Every format reads back, in
// the default region US, as the same number.
func (p person) phone(b []byte, format int) []byte {
	switch p.country {
	case 0:
		// The five US layouts: what precedes the area code, the exchange and the line.
		l := [...][3]string{{"+1 ", " ", " "}, {"(", ") ", "-"}, {"", "-", "-"}, {"+1", "", ""}, {"", ".", "."}}[(format%5+5)%5]
		b = append(b, l[0]...)
		b = pad(b, p.p1, 3)
		b = append(b, l[1]...)
		b = pad(b, p.p2, 3)
		b = append(b, l[2]...)
		b = pad(b, p.p3, 4)
	case 1:
		d := strconv.AppendInt(make([]byte, 0, 9), int64(p.p1), 10)
		if format%2 == 0 {
			b = append(b, "+33 "...)
			b = append(b, d[0])
			for i := 1; i < 9; i += 2 {
				b = append(b, ' ', d[i], d[i+1])
			}
		} else {
			b = append(b, "+33"...)
			b = append(b, d...)
		}
	default:
		if format%2 == 0 {
			b = append(b, "+44 20 "...)
			b = pad(b, p.p1/10000, 4)
			b = append(b, ' ')
			b = pad(b, p.p1%10000, 4)
		} else {
			b = append(b, "+4420"...)
			b = pad(b, p.p1, 8)
		}
	}
	return b
}

// email writes the person's address in one of three casings: as typed on a form
// ("jane.doe42@gmail.com"), capitalized ("Jane.Doe42@Gmail.com") or shouted.
func (p person) email(b []byte, casing int) []byte {
	start := len(b)
	b = append(b, p.first...)
	b = append(b, '.')
	b = append(b, p.last...)
	if p.mailNum >= 0 {
		b = strconv.AppendInt(b, int64(p.mailNum), 10)
	}
	at := len(b)
	b = append(b, '@')
	b = append(b, p.domain...)
	switch casing % 4 {
	case 0, 1:
		lower(b[start:])
	case 2:
		lower(b[start:])
		b[start] = upper(b[start])
		dot := start + len(p.first) + 1
		b[dot] = upper(b[dot])
		b[at+1] = upper(b[at+1])
	default:
		for i := start; i < at; i++ {
			b[i] = upper(b[i])
		}
		lower(b[at:])
	}
	return b
}

// fullNames lists "First Last" for every pair of names, indexed by person.nameIdx.
func fullNames() []string {
	out := make([]string, 0, len(firstNames)*len(lastNames))
	for _, f := range firstNames {
		for _, l := range lastNames {
			out = append(out, f+" "+l)
		}
	}
	return out
}

func lower(b []byte) {
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
}

func upper(c byte) byte {
	if 'a' <= c && c <= 'z' {
		return c - 'a' + 'A'
	}
	return c
}

func pad(b []byte, v, width int) []byte {
	var tmp [20]byte
	d := strconv.AppendInt(tmp[:0], int64(v), 10)
	for i := len(d); i < width; i++ {
		b = append(b, '0')
	}
	return append(b, d...)
}

// ASCII names keep the email addresses plain; the JSON writer escapes whatever it is given.
var (
	firstNames = strings.Fields("James Mary Robert Patricia John Jennifer Michael Linda David Elizabeth William Barbara " +
		"Richard Susan Joseph Jessica Thomas Sarah Camille Louis Chloe Hugo Lea Lucas Manon Jules Emma Arthur " +
		"Olivia Noah Amelia Oliver Isla George Ava Harry Mia Leo Zoe Nathan Ines")
	lastNames = strings.Fields("Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Wilson " +
		"Anderson Taylor Thomas Moore Martin Jackson Lee Walker Hall Bernard Dubois Durand Lefebvre Moreau Laurent " +
		"Simon Michel Leroy Roux Evans Wright Roberts Clarke Hughes Lewis Patel Khan Murphy OBrien")
	usAreas   = []int{415, 212, 312, 617, 206, 512, 303, 404, 305, 702, 213, 646, 718, 503, 612, 214}
	usDomains = []string{"gmail.com", "yahoo.com", "outlook.com", "icloud.com", "hotmail.com", "acme-corp.com", "example.org"}
	frDomains = []string{"gmail.com", "orange.fr", "free.fr", "laposte.net", "sfr.fr", "wanadoo.fr"}
	ukDomains = []string{"gmail.com", "btinternet.com", "outlook.com", "sky.com", "yahoo.co.uk"}
)
