package delivery

import (
	"fmt"
	"strings"
	"testing"

	"github.com/leadrelay/leadrelay/shared/config"
	"github.com/leadrelay/leadrelay/shared/webhook"
)

// A Sheets buyer's lead goes to the Sheets poster, and a message received
// again is posted as a repeat (the poster reads the sheet back first).
func TestSheetsDeliveryIsPostedAsARepeatWhenReceivedAgain(t *testing.T) {
	f := newFixture(t, 1, "{type: fixed, amount: 4.00}", webhook.Accepted)
	doc := strings.Replace(fmt.Sprintf(testConfig, 1, "{type: fixed, amount: 4.00}"),
		`{type: webhook, url: "https://acme.example/leads", max_attempts: 3}`,
		`{type: sheets, spreadsheet_id: "1BxiMVs0XRA5nFMdKvBdBZjgmUUqptlbs74OgvE2upms", range: "Leads!A1", credentials: "ssm:/leadrelay/sheets/acme", max_attempts: 3, fields: [{name: Phone, from: phone}]}`, 1)
	c, err := config.Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	f.h.Configs = fakeConfigs{config.NewIndex(c)}
	sheets := &fakePoster{script: []webhook.Outcome{webhook.Transient, webhook.Accepted}}
	f.h.Sheets = sheets
	if !f.handle(t, f.receive(t, 1)) {
		t.Fatal("a transient failure was not retried")
	}
	if f.handle(t, f.receive(t, 2)) || len(f.store.sales) != 1 {
		t.Fatalf("not sold: %d sales", len(f.store.sales))
	}
	if len(f.poster.posts) != 0 || len(sheets.posts) != 2 || sheets.posts[0].Repeat || !sheets.posts[1].Repeat {
		t.Fatalf("webhook posts %d, sheets posts %+v", len(f.poster.posts), sheets.posts)
	}
}
