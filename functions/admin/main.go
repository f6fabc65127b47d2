// Command admin is LeadRelay's admin Lambda function.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"

	"github.com/leadrelay/leadrelay/shared/app/adminapp"
	"github.com/leadrelay/leadrelay/shared/settings"
)

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stdout, nil)).With("function", "admin")
	cfg, err := awsconfig.LoadDefaultConfig(context.Background())
	if err != nil {
		log.Error("load AWS configuration", "error", err)
		os.Exit(1)
	}
	lambda.Start(adminapp.Invoke(adminapp.New(settings.MustFromEnv(), cfg, log)))
}
