package store

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/leadrelay/leadrelay/shared/config"
)

// AuditRecord is one configuration change: who made it, when, what, and
// the entities before and after (config.Change, secrets redacted).
type AuditRecord struct {
	// Version is the configuration version the change made; Previous the
	// one it replaced.
	Version  int64     `json:"version"`
	Previous int64     `json:"previous_version"`
	At       time.Time `json:"at"`
	// Actor is the IAM principal (its ARN) or "token" in the local runner.
	Actor string `json:"actor"`
	// Action is what was asked: "apply config", "put buyer", "pause order",
	// "rotate source key"...
	Action string `json:"action"`
	// Target names the entity ("buyer/acme", "order/acme/auto"), empty for
	// a whole document.
	Target  string          `json:"target,omitempty"`
	Changes []config.Change `json:"changes"`
}

// ApplyConfig stores next over base (the configuration the caller read
// and changed) together with the audit record of the change, in one
// transaction conditioned on base's version: a change in between gives
// ErrVersionConflict and writes nothing. A next equal to base changes
// nothing and keeps the version. rec's versions and time are filled in.
func (s *Store) ApplyConfig(ctx context.Context, base, next *config.Config, rec AuditRecord) (int64, bool, error) {
	doc := *next
	doc.Version = 0
	body, err := doc.JSON()
	if err != nil {
		return 0, false, fmt.Errorf("encode config: %w", err)
	}
	baseDoc := *base
	baseDoc.Version = 0
	if baseBody, _ := baseDoc.JSON(); base.Version > 0 && bytes.Equal(baseBody, body) {
		return base.Version, false, nil
	}
	zippedDoc, err := zip(body)
	if err != nil {
		return 0, false, fmt.Errorf("compress config: %w", err)
	}
	now := s.now().UTC()
	ver := base.Version + 1
	rec.Version, rec.Previous, rec.At = ver, base.Version, now
	if rec.Changes == nil {
		rec.Changes = []config.Change{}
	}
	recBody, err := json.Marshal(rec)
	if err != nil {
		return 0, false, fmt.Errorf("encode audit record: %w", err)
	}
	zippedRec, err := zip(recBody)
	if err != nil {
		return 0, false, fmt.Errorf("compress audit record: %w", err)
	}

	pk, sk := configKey()
	cfgItem := key(pk, sk)
	cfgItem["version"] = num(ver)
	cfgItem["doc"] = &types.AttributeValueMemberB{Value: zippedDoc}
	cfgItem["updated_at"] = str(now.Format(time.RFC3339Nano))
	put := &types.Put{TableName: aws.String(s.table), Item: cfgItem, ConditionExpression: aws.String("attribute_not_exists(pk)")}
	if base.Version > 0 {
		put.ConditionExpression = aws.String("version = :v")
		put.ExpressionAttributeValues = map[string]types.AttributeValue{":v": num(base.Version)}
	}
	apk, ask := auditKey(ver)
	auditItem := key(apk, ask)
	auditItem["at"] = str(now.Format(time.RFC3339Nano))
	auditItem["actor"] = str(rec.Actor)
	auditItem["record"] = &types.AttributeValueMemberB{Value: zippedRec}

	t := &txn{}
	t.put("config", put)
	t.put("audit", &types.Put{TableName: aws.String(s.table), Item: auditItem, ConditionExpression: aws.String("attribute_not_exists(pk)")})
	err = s.transact(ctx, t)
	if t.failures(err) != nil {
		return base.Version, false, ErrVersionConflict
	}
	if err != nil {
		return 0, false, fmt.Errorf("apply config: %w", err)
	}
	return ver, true, nil
}

// Audit returns up to limit audit records, newest first.
func (s *Store) Audit(ctx context.Context, limit int) ([]AuditRecord, error) {
	pk, _ := auditKey(0)
	out, err := s.db.Query(ctx, &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		KeyConditionExpression:    aws.String("pk = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": str(pk)},
		ScanIndexForward:          aws.Bool(false),
		Limit:                     aws.Int32(int32(limit)),
		ConsistentRead:            aws.Bool(true),
	})
	if err != nil {
		return nil, fmt.Errorf("read audit log: %w", err)
	}
	recs := make([]AuditRecord, 0, len(out.Items))
	for _, item := range out.Items {
		b, _ := item["record"].(*types.AttributeValueMemberB)
		if b == nil {
			return nil, errors.New("read audit log: stored record is malformed")
		}
		body, err := unzip(b.Value)
		if err != nil {
			return nil, fmt.Errorf("read audit log: %w", err)
		}
		var rec AuditRecord
		if err := json.Unmarshal(body, &rec); err != nil {
			return nil, fmt.Errorf("read audit log: %w", err)
		}
		recs = append(recs, rec)
	}
	return recs, nil
}

func zip(body []byte) ([]byte, error) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(body); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func unzip(b []byte) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	return io.ReadAll(io.LimitReader(zr, 16<<20))
}
