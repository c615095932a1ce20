package webhooks

import (
	"unicode/utf8"

	"github.com/interaction-ledger/ledger/domain"
)

// Clicked returns the data of an e-mail's click (SendGrid click, Mailgun clicked). The
// link is kept only when it fits the contract (domain.MaxURLBytes, valid UTF-8): a cut
// link would name another page, and a click is worth recording without its link rather
// than refusing the provider's whole payload.
func Clicked(interactionID, url string) *domain.ClickedData {
	if len(url) > domain.MaxURLBytes || !utf8.ValidString(url) {
		url = ""
	}
	return &domain.ClickedData{InteractionID: interactionID, URL: url}
}
