package main

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscognito"
	"github.com/aws/jsii-runtime-go"
)

// The operators' console is served by the admin function under
// <stage URL>/console (GET /console, ANY /console/{proxy+}). Deployed, its
// operators sign in through the stack's Amazon Cognito user pool: the
// hosted login, the authorization code flow with PKCE for a public app
// client, the ID token verified by the function (package cognito). The
// console never holds AWS keys. Operators are invited by an administrator
// (docs/deploy.md, "Console sign-in"); nobody signs up.
const (
	// ConsolePath is the console's path under the stage.
	ConsolePath = "/console"
	// ConsoleCallbackPath is where the hosted login sends the browser back
	// with a code; ConsoleLoginPath where it sends it after signing out.
	ConsoleCallbackPath = ConsolePath + "/callback"
	ConsoleLoginPath    = ConsolePath + "/login"
)

// Context keys of the console's sign-in (`cdk ... -c key=value`):
//
//	cognito              false leaves the user pool out (LocalStack's free
//	                     edition has no Cognito): the admin function then
//	                     gets no LEADRELAY_COGNITO_* and the console signs
//	                     operators in with the operator token
//	cognitoDomainPrefix  the hosted login's domain prefix
//	                     (<prefix>.auth.<region>.amazoncognito.com), unique
//	                     in the region; default <stack name>-<the stack's id>
//	cognitoMfa           required makes every operator enroll an
//	                     authenticator app (TOTP) at their first sign-in;
//	                     default optional
const (
	contextCognito             = "cognito"
	contextCognitoDomainPrefix = "cognitoDomainPrefix"
	contextCognitoMFA          = "cognitoMfa"
)

// cognitoWanted reads the cognito context value: anything but false (the
// bool, or the string the CLI passes) keeps the user pool.
func cognitoWanted(stack awscdk.Stack) bool {
	switch v := stack.Node().TryGetContext(jsii.String(contextCognito)).(type) {
	case bool:
		return v
	case string:
		return !strings.EqualFold(strings.TrimSpace(v), "false")
	}
	return true
}

// cognitoMFA reads the cognitoMfa context value: required or optional
// (the default).
func cognitoMFA(stack awscdk.Stack) (awscognito.Mfa, error) {
	v, _ := stack.Node().TryGetContext(jsii.String(contextCognitoMFA)).(string)
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "", "optional":
		return awscognito.Mfa_OPTIONAL, nil
	case "required":
		return awscognito.Mfa_REQUIRED, nil
	}
	return "", fmt.Errorf("%s %q: want optional or required", contextCognitoMFA, v)
}

// domainPrefixRE is what Cognito takes as a domain prefix.
var domainPrefixRE = regexp.MustCompile(`^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$`)

// checkDomainPrefix refuses what Cognito would: characters other than
// lowercase letters, digits and hyphens, and the reserved words.
func checkDomainPrefix(p string) error {
	if !domainPrefixRE.MatchString(p) {
		return fmt.Errorf("%s %q: want 1 to 63 lowercase letters, digits and hyphens, not starting or ending with a hyphen", contextCognitoDomainPrefix, p)
	}
	for _, w := range []string{"aws", "amazon", "cognito"} {
		if strings.Contains(p, w) {
			return fmt.Errorf("%s %q: Cognito reserves %q", contextCognitoDomainPrefix, p, w)
		}
	}
	return nil
}

// stackDomainPrefix is the default domain prefix: the stack's name in
// lowercase (LeadRelay: leadrelay) and its id, a UUID that CloudFormation
// gives the stack when it is created, so that two stacks, in one account
// or in two, never ask for the same domain.
func stackDomainPrefix(stack awscdk.Stack) *string {
	name := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			return r
		case r >= 'A' && r <= 'Z':
			return r - 'A' + 'a'
		}
		return '-'
	}, *stack.StackName())
	name = strings.Trim(name, "-")
	if len(name) > 26 { // 26 + "-" + a 36-character UUID = 63
		name = strings.Trim(name[:26], "-")
	}
	if name == "" || checkDomainPrefix(name) != nil {
		name = "leadrelay"
	}
	// arn:aws:cloudformation:<region>:<account>:stack/<name>/<uuid>
	uuid := awscdk.Fn_Select(jsii.Number(2), awscdk.Fn_Split(jsii.String("/"), stack.StackId(), nil))
	return awscdk.Fn_Join(jsii.String(""), &[]*string{jsii.String(name + "-"), uuid})
}

// newOperatorPool defines the operators' user pool, its hosted login's
// domain and the console's app client, whose callback is under publicURL
// (the stage's URL).
func (s *LeadRelayStack) newOperatorPool(publicURL *string, deletionProtection bool) error {
	prefix := stackDomainPrefix(s.Stack)
	if v, ok := s.Node().TryGetContext(jsii.String(contextCognitoDomainPrefix)).(string); ok && v != "" {
		if err := checkDomainPrefix(v); err != nil {
			return err
		}
		prefix = jsii.String(v)
	}
	mfa, err := cognitoMFA(s.Stack)
	if err != nil {
		return err
	}
	consoleURL := awscdk.Fn_Join(jsii.String(""), &[]*string{publicURL, jsii.String(ConsolePath)})

	s.UserPool = awscognito.NewUserPool(s.Stack, jsii.String("OperatorPool"), &awscognito.UserPoolProps{
		// Operators are invited (AdminCreateUser emails a temporary
		// password); nobody signs up.
		SelfSignUpEnabled: jsii.Bool(false),
		// They sign in with their email address, which is their username;
		// an invitation verifies it, and a change is verified by a code
		// before it replaces the old one.
		SignInAliases:       &awscognito.SignInAliases{Email: jsii.Bool(true)},
		SignInCaseSensitive: jsii.Bool(false),
		AutoVerify:          &awscognito.AutoVerifiedAttrs{Email: jsii.Bool(true)},
		KeepOriginal:        &awscognito.KeepOriginalAttrs{Email: jsii.Bool(true)},
		StandardAttributes: &awscognito.StandardAttributes{
			Email: &awscognito.StandardAttribute{Required: jsii.Bool(true), Mutable: jsii.Bool(true)},
		},
		AccountRecovery: awscognito.AccountRecovery_EMAIL_ONLY,
		PasswordPolicy: &awscognito.PasswordPolicy{
			MinLength:            jsii.Number(12),
			RequireLowercase:     jsii.Bool(true),
			RequireUppercase:     jsii.Bool(true),
			RequireDigits:        jsii.Bool(true),
			RequireSymbols:       jsii.Bool(true),
			TempPasswordValidity: awscdk.Duration_Days(jsii.Number(7)),
		},
		// An authenticator app (TOTP), optional unless the cognitoMfa
		// context value says required; no SMS (no SNS role, no
		// per-message cost).
		Mfa:             mfa,
		MfaSecondFactor: &awscognito.MfaSecondFactor{Otp: jsii.Bool(true), Sms: jsii.Bool(false)},
		FeaturePlan:     awscognito.FeaturePlan_ESSENTIALS,
		UserInvitation: &awscognito.UserInvitationConfig{
			// Cognito requires {username}, which is the account's id (a
			// UUID) where the email address is the sign-in name.
			EmailSubject: jsii.String("Your LeadRelay console account"),
			EmailBody: awscdk.Fn_Join(jsii.String(""), &[]*string{
				jsii.String("<p>You are invited to the LeadRelay operators' console.</p><p>Sign in at "), consoleURL,
				jsii.String(" with this email address and the temporary password {####} within 7 days; you then choose your own password.</p><p>Your account: {username}</p>"),
			}),
		},
		// The operators' accounts outlive the stack, as the table does.
		DeletionProtection: jsii.Bool(deletionProtection),
		RemovalPolicy:      awscdk.RemovalPolicy_RETAIN,
	})
	s.UserPoolDomain = s.UserPool.AddDomain(jsii.String("HostedLogin"), &awscognito.UserPoolDomainOptions{
		CognitoDomain: &awscognito.CognitoDomainOptions{DomainPrefix: prefix},
	})
	s.UserPoolClient = s.UserPool.AddClient(jsii.String("ConsoleClient"), &awscognito.UserPoolClientOptions{
		// A public client: the console trades codes with a PKCE verifier,
		// never a secret that a function would have to keep.
		GenerateSecret: jsii.Bool(false),
		AuthFlows:      &awscognito.AuthFlow{UserSrp: jsii.Bool(true)},
		OAuth: &awscognito.OAuthSettings{
			Flows: &awscognito.OAuthFlows{
				AuthorizationCodeGrant: jsii.Bool(true),
				ImplicitCodeGrant:      jsii.Bool(false),
				ClientCredentials:      jsii.Bool(false),
			},
			Scopes:       &[]awscognito.OAuthScope{awscognito.OAuthScope_OPENID(), awscognito.OAuthScope_EMAIL()},
			CallbackUrls: &[]*string{awscdk.Fn_Join(jsii.String(""), &[]*string{publicURL, jsii.String(ConsoleCallbackPath)})},
			LogoutUrls:   &[]*string{awscdk.Fn_Join(jsii.String(""), &[]*string{publicURL, jsii.String(ConsoleLoginPath)})},
		},
		SupportedIdentityProviders: &[]awscognito.UserPoolClientIdentityProvider{awscognito.UserPoolClientIdentityProvider_COGNITO()},
		PreventUserExistenceErrors: jsii.Bool(true),
		EnableTokenRevocation:      jsii.Bool(true),
		IdTokenValidity:            awscdk.Duration_Hours(jsii.Number(1)),
		AccessTokenValidity:        awscdk.Duration_Hours(jsii.Number(1)),
		RefreshTokenValidity:       awscdk.Duration_Hours(jsii.Number(12)),
	})

	admin := s.Functions[FnAdmin]
	admin.AddEnvironment(jsii.String("LEADRELAY_COGNITO_DOMAIN"), s.UserPoolDomain.BaseUrl(nil), nil)
	admin.AddEnvironment(jsii.String("LEADRELAY_COGNITO_CLIENT_ID"), s.UserPoolClient.UserPoolClientId(), nil)
	// The provider URL is cognito-idp.<region>.amazonaws.com/<pool id>.
	admin.AddEnvironment(jsii.String("LEADRELAY_COGNITO_ISSUER"), awscdk.Fn_Join(jsii.String(""), &[]*string{
		jsii.String("https://"), s.UserPool.UserPoolProviderUrl(),
	}), nil)
	return nil
}
