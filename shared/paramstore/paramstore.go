// Package paramstore reads SSM Parameter Store: a parameter's decrypted
// value (the ping secret's SecureString on AWS).
package paramstore

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
)

// API is the part of the SSM client a Reader uses.
type API interface {
	GetParameter(ctx context.Context, in *ssm.GetParameterInput, opts ...func(*ssm.Options)) (*ssm.GetParameterOutput, error)
}

// Reader reads parameters from SSM Parameter Store, decrypted.
type Reader struct{ API API }

// Parameter reads the parameter's decrypted value.
func (s Reader) Parameter(ctx context.Context, name string) (string, error) {
	out, err := s.API.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(name), WithDecryption: aws.Bool(true)})
	if err != nil {
		return "", fmt.Errorf("ssm GetParameter: %w", err)
	}
	if out.Parameter == nil {
		return "", fmt.Errorf("parameter %s has no value", name)
	}
	return aws.ToString(out.Parameter.Value), nil
}
