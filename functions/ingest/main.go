// Command ingest is LeadRelay's ingest Lambda function.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"

	"github.com/leadrelay/leadrelay/shared/app/ingestapp"
	"github.com/leadrelay/leadrelay/shared/settings"
)

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stdout, nil)).With("function", "ingest")
	cfg, err := awsconfig.LoadDefaultConfig(context.Background())
	if err != nil {
		log.Error("load AWS configuration", "error", err)
		os.Exit(1)
	}
	lambda.Start(ingestapp.Invoke(ingestapp.New(settings.MustFromEnv(), cfg, log)))
}
