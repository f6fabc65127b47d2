package store

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/leadrelay/leadrelay/shared/money"
)

// An import replaces each figure it names: the aggregates move by the
// difference, an unchanged figure writes nothing, a figure read is the
// condition of its replacement, and origins are kept apart.
func TestSpendReplacesFigures(t *testing.T) {
	s := New(nil, "t", nil)
	fbAuto := spendKey{SpendManual, "fb", "auto"}
	fbHome := spendKey{SpendManual, "fb", "home"}
	metaFbAuto := spendKey{SpendMeta, "fb", "auto"}
	have := map[spendKey]money.Amount{fbAuto: 10000, fbHome: 500}

	if tx, err := s.spendTxn("2026-12-01", map[spendKey]money.Amount{fbAuto: 10000, fbHome: 500}, have); err != nil || tx != nil {
		t.Fatalf("the same figures again: %v %+v, want nothing to write", err, tx)
	}

	tx, err := s.spendTxn("2026-12-01", map[spendKey]money.Amount{fbAuto: 12500, metaFbAuto: 300}, have)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for i, it := range tx.items {
		names = append(names, tx.names[i])
		if u := it.Update; u != nil {
			moved := false
			for _, v := range u.ExpressionAttributeValues {
				if n, ok := v.(*types.AttributeValueMemberN); ok && n.Value == "2800" {
					moved = true
				}
			}
			if !moved {
				t.Fatalf("%s: %v, want the aggregate moved by 2500 + 300", tx.names[i], u.ExpressionAttributeValues)
			}
		}
		if p := it.Put; p != nil && strings.Contains(tx.names[i], "manual#fb#auto") && *p.ConditionExpression != "amount = :old" {
			t.Fatalf("replacing a figure read: condition %q", *p.ConditionExpression)
		}
		if p := it.Put; p != nil && strings.Contains(tx.names[i], "meta#fb#auto") && *p.ConditionExpression != "attribute_not_exists(pk)" {
			t.Fatalf("a new figure: condition %q", *p.ConditionExpression)
		}
	}
	got := strings.Join(names, ",")
	if got != "spend:manual#fb#auto,spend:meta#fb#auto,campaign#auto,source#fb" {
		t.Fatalf("transaction items %s", got)
	}
}
