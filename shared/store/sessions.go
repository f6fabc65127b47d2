package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Kinds of console session.
const (
	// SessionOperator is a signed-in operator's session.
	SessionOperator = "operator"
	// SessionLogin is a sign-in under way at the identity provider: the
	// state and PKCE verifier the callback is checked against.
	SessionLogin = "login"
)

// Session is a console session (package console): an operator's, or a
// sign-in under way. It is stored under the SHA-256 of the id its cookie
// carries, and lives until Expires (the table's TTL attribute).
type Session struct {
	Kind string `dynamodbav:"kind"`
	// Who is the operator: "token" for the local operator token, or the
	// identity provider's subject; Email is the provider's, if any.
	Who   string `dynamodbav:"who,omitempty"`
	Email string `dynamodbav:"email,omitempty"`
	// CSRF is the token every change the session asks for must carry.
	CSRF string `dynamodbav:"csrf,omitempty"`
	// State and Verifier are a sign-in's (SessionLogin): the OAuth state
	// and the PKCE code verifier.
	State    string    `dynamodbav:"state,omitempty"`
	Verifier string    `dynamodbav:"verifier,omitempty"`
	Created  time.Time `dynamodbav:"created"`
	Expires  time.Time `dynamodbav:"-"`
}

// PutSession stores a new session under its cookie's id (random: it is
// never put twice).
func (s *Store) PutSession(ctx context.Context, id string, sess Session) error {
	item, err := attributevalue.MarshalMap(sess)
	if err != nil {
		return fmt.Errorf("encode session: %w", err)
	}
	pk, sk := sessionKey(id)
	item[attrPK], item[attrSK] = str(pk), str(sk)
	item[attrExpires] = expiry(sess.Expires)
	err = s.putItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(s.table), Item: item,
		ConditionExpression: aws.String("attribute_not_exists(pk)"),
	})
	if err != nil {
		return fmt.Errorf("put session: %w", err)
	}
	return nil
}

// Session reads the session of a cookie's id: ErrNotFound when there is
// none, or it has ended or expired (TTL deletion lags, and moto never
// deletes, so expiry is checked here).
func (s *Store) Session(ctx context.Context, id string) (*Session, error) {
	pk, sk := sessionKey(id)
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.table), Key: key(pk, sk), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return nil, fmt.Errorf("read session: %w", err)
	}
	if out.Item == nil {
		return nil, ErrNotFound
	}
	var sess Session
	if err := attributevalue.UnmarshalMap(out.Item, &sess); err != nil {
		return nil, fmt.Errorf("decode session: %w", err)
	}
	var exp int64
	if n, ok := out.Item[attrExpires].(*types.AttributeValueMemberN); ok {
		if _, err := fmt.Sscan(n.Value, &exp); err != nil {
			return nil, fmt.Errorf("decode session expiry: %w", err)
		}
	}
	sess.Expires = time.Unix(exp, 0).UTC()
	if !s.now().Before(sess.Expires) {
		return nil, ErrNotFound
	}
	return &sess, nil
}

// EndSession ends a session now (signing out, or a sign-in's state used
// once). The item expires at once rather than being deleted: no function
// deletes items (infra/access.go), and TTL removes it.
func (s *Store) EndSession(ctx context.Context, id string) error {
	pk, sk := sessionKey(id)
	_, err := s.updateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.table), Key: key(pk, sk),
		UpdateExpression:          aws.String("SET #exp = :now REMOVE csrf, verifier"),
		ConditionExpression:       aws.String("attribute_exists(pk)"),
		ExpressionAttributeNames:  map[string]string{"#exp": attrExpires},
		ExpressionAttributeValues: map[string]types.AttributeValue{":now": expiry(s.now())},
	})
	if errors.As(err, new(*types.ConditionalCheckFailedException)) {
		return nil // no such session: ended already
	}
	if err != nil {
		return fmt.Errorf("end session: %w", err)
	}
	return nil
}
