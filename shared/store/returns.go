package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/leadrelay/leadrelay/shared/lead"
	"github.com/leadrelay/leadrelay/shared/returns"
)

// Return records the return of a sale with its ledger entries: one item
// per sale, put on the condition that it does not exist, so a return
// counts once however often it is posted, and never disturbs the lead's
// rounds. The day's aggregates of the campaign, source, buyer and
// buyer×source lose the sale's price from revenue and the clawback from
// cost, and count one "returned". It returns returns.ErrAlreadyReturned
// if the sale was returned.
func (s *Store) Return(ctx context.Context, in returns.Decision) error {
	rec := in.Lead
	if in.Sale < 0 || in.Sale >= len(rec.Sales) {
		return fmt.Errorf("return lead %s: no sale %d", rec.ID, in.Sale)
	}
	sale := rec.Sales[in.Sale]
	item, err := attributevalue.MarshalMap(returned{Sale: in.Sale, Return: in.Return, Events: in.Events})
	if err != nil {
		return fmt.Errorf("encode return: %w", err)
	}
	pk, sk := returnKey(rec.ID, in.Sale)
	item[attrPK], item[attrSK] = str(pk), str(sk)
	if !rec.Test {
		day := s.day(ctx, in.Return.At)
		c := counts{"revenue": -int64(sale.Price), "returned": 1}
		if in.Return.Clawback != 0 {
			c["cost"] = -int64(in.Return.Clawback)
		}
		if in.Return.Reason == "fraud" {
			c["returned_fraud"] = 1
		}
		lg := entries(day, leadDims(rec.Lead), c)
		lg = append(lg, entries(day, map[string]string{DimBuyer: sale.Buyer, DimBuyerSource: BuyerSourceID(sale.Buyer, rec.Source),
			DimOrder: sale.Buyer + "/" + sale.Order}, c)...)
		item[attrLedger] = ledgerValue(lg)
	}
	put := &types.Put{TableName: aws.String(s.table), Item: item, ConditionExpression: aws.String("attribute_not_exists(pk)")}
	var extra []types.TransactWriteItem
	if in.CreditBalance && !rec.Test {
		extra = append(extra, types.TransactWriteItem{Update: s.balanceCredit(sale.Buyer, sale.Price)})
	}
	if in.Charge != nil && !rec.Test {
		cp, err := s.chargePut(in.Charge)
		if err != nil {
			return err
		}
		extra = append(extra, types.TransactWriteItem{Put: cp})
	}
	taken, err := s.putWith(ctx, rec.ID, put, in.Conversion, extra...)
	if taken {
		return returns.ErrAlreadyReturned
	}
	if err != nil {
		return fmt.Errorf("return lead %s: %w", rec.ID, err)
	}
	return nil
}

// putWith puts a lead's item on its condition, with a conversion queued
// and the extra items written in the same transaction when there are any.
// It reports whether the item's condition failed (the item was there).
func (s *Store) putWith(ctx context.Context, id string, put *types.Put, conv *lead.Conversion, extra ...types.TransactWriteItem) (bool, error) {
	if conv == nil && len(extra) == 0 {
		err := s.putItem(ctx, &dynamodb.PutItemInput{TableName: put.TableName, Item: put.Item, ConditionExpression: put.ConditionExpression})
		if errors.As(err, new(*types.ConditionalCheckFailedException)) {
			return true, nil
		}
		return false, err
	}
	t := &txn{}
	t.put(itemOwn, put)
	if conv != nil {
		cp, err := s.conversionPut(id, conv)
		if err != nil {
			return false, err
		}
		t.put(itemConversion, cp)
	}
	for i, it := range extra {
		t.add(fmt.Sprintf("extra:%d", i), it)
	}
	err := s.transact(ctx, t)
	if _, ok := t.failures(err)[itemOwn]; ok {
		return true, nil
	}
	return false, err
}
