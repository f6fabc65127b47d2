package main

// DefaultStripeURL is Stripe's API, as the functions default to it
// (shared/settings.DefaultStripeURL): the admin function's billing task
// and top-ups call it, and the ingest function's Stripe webhook checks
// what it tells. The account's keys are SSM parameters under /leadrelay/
// that the configuration references (billing.stripe.secret_key and
// webhook_secret), which the admin and ingest functions already read
// (grantSpendTokens, grantMeta).
const DefaultStripeURL = "https://api.stripe.com"
