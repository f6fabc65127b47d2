package runner

import (
	"testing"
)

// A configuration file's ${NAME} references take the environment's
// values; a bare $name is the configuration's own (a buyer's $lead_id).
func TestExpandFileKeepsTheConfigurationsOwnDollarNames(t *testing.T) {
	t.Setenv("LEADRELAY_TEST_HOST", "crm.example")
	doc := "url: http://${LEADRELAY_ADDR}/b\nother: https://${LEADRELAY_TEST_HOST}/x\nfields: {id: $lead_id, price: $price}\nunset: ${LEADRELAY_NOT_SET}|"
	want := "url: http://127.0.0.1:8080/b\nother: https://crm.example/x\nfields: {id: $lead_id, price: $price}\nunset: |"
	if got := expandFile(doc, "127.0.0.1:8080"); got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
}
