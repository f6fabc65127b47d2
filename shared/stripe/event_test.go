package stripe

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParseEventCheckoutSession(t *testing.T) {
	ev, err := ParseEvent([]byte(testPayload))
	if err != nil {
		t.Fatal(err)
	}
	if ev.ID != "evt_1" || ev.Type != EventCheckoutSessionCompleted || ev.Created != 1700000000 || ev.Livemode {
		t.Errorf("event %+v", ev)
	}
	if ev.ObjectType() != ObjectCheckoutSession {
		t.Errorf("object type %q", ev.ObjectType())
	}
	s, err := ev.CheckoutSession()
	if err != nil {
		t.Fatal(err)
	}
	want := CheckoutSession{ID: "cs_test_1", Customer: "cus_1", AmountTotal: 5000, Currency: "usd", PaymentStatus: "paid",
		Mode: "payment", PaymentIntent: "pi_1"}
	want.Metadata = map[string]string{"buyer_id": "b1"}
	if !reflect.DeepEqual(*s, want) {
		t.Errorf("session %+v, want %+v", *s, want)
	}
	if _, err := ev.PaymentIntent(); !errors.Is(err, ErrUnexpectedObject) {
		t.Errorf("a session decoded as a PaymentIntent: %v", err)
	}
	if _, err := ev.Invoice(); !errors.Is(err, ErrUnexpectedObject) {
		t.Errorf("a session decoded as an Invoice: %v", err)
	}
}

func TestParseEventExpandedAndNullReferences(t *testing.T) {
	ev, err := ParseEvent([]byte(`{"id":"evt_2","object":"event","type":"payment_intent.succeeded","created":1,"livemode":true,
		"data":{"object":{"id":"pi_2","object":"payment_intent","amount":2000,"amount_received":2000,"currency":"usd",
		"customer":{"id":"cus_2","object":"customer"},"payment_method":null,"status":"succeeded","metadata":{}}}}`))
	if err != nil {
		t.Fatal(err)
	}
	p, err := ev.PaymentIntent()
	if err != nil {
		t.Fatal(err)
	}
	if p.ID != "pi_2" || p.Customer != "cus_2" || p.PaymentMethod != "" || p.AmountReceived != 2000 || p.Status != PaymentIntentSucceeded || !ev.Livemode {
		t.Errorf("intent %+v", p)
	}

	ev, err = ParseEvent([]byte(`{"id":"evt_3","type":"invoice.paid","data":{"object":{"id":"in_1","object":"invoice",
		"customer":"cus_3","status":"paid","currency":"usd","total":12000,"amount_due":12000,"amount_paid":12000}}}`))
	if err != nil {
		t.Fatal(err)
	}
	in, err := ev.Invoice()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(*in, Invoice{ID: "in_1", Customer: "cus_3", Status: "paid", Currency: "usd", Total: 12000, AmountDue: 12000, AmountPaid: 12000}) {
		t.Errorf("invoice %+v", in)
	}
}

func TestParseEventRefuses(t *testing.T) {
	for name, payload := range map[string]string{
		"not JSON":       `not json`,
		"not an event":   `{"id":"cus_1","object":"customer","type":"x","data":{"object":{}}}`,
		"no id":          `{"type":"x","data":{"object":{}}}`,
		"no type":        `{"id":"evt_1","data":{"object":{}}}`,
		"no data":        `{"id":"evt_1","type":"x"}`,
		"object is null": `{"id":"evt_1","type":"x","data":{"object":null}}`,
		"object is list": `{"id":"evt_1","type":"x","data":{"object":[1]}}`,
	} {
		if _, err := ParseEvent([]byte(payload)); err == nil {
			t.Errorf("%s: parsed", name)
		}
	}
	// A malformed object is an error of the decoder, not a panic.
	ev, err := ParseEvent([]byte(`{"id":"evt_1","type":"checkout.session.completed","data":{"object":{"id":"cs_1","amount_total":"lots"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ev.CheckoutSession(); err == nil || !strings.Contains(err.Error(), "evt_1") {
		t.Errorf("malformed session: %v", err)
	}
}
