package main

// The Google APIs of Sheets deliveries, as the functions default to them
// (shared/settings.DefaultSheetsURL and DefaultGoogleTokenURL): the
// delivery function appends Sheets buyers' rows to the Sheets API, as
// service accounts whose access tokens the token endpoint issues. Their
// keys are SSM parameters under /leadrelay/, which the delivery function
// already reads (grant: the configuration's ssm: references).
const (
	DefaultSheetsURL      = "https://sheets.googleapis.com"
	DefaultGoogleTokenURL = "https://oauth2.googleapis.com/token"
)
