package config

// Scoring configures how a campaign's leads are scored (package scoring).
type Scoring struct {
	// VelocityWindow is how far back other leads with the same phone,
	// email or client IP count as velocity (default DefaultVelocityWindow).
	VelocityWindow Duration `yaml:"velocity_window,omitempty" json:"velocity_window,omitempty"`
	// ConsentField names the field that holds the lead's consent
	// certificate (a TrustedForm URL, a Jornaya LeadiD); default
	// DefaultConsentFields.
	ConsentField string `yaml:"consent_field,omitempty" json:"consent_field,omitempty"`
	// IPField names the field that holds the consumer's IP address
	// (default "ip_address"), counted for velocity. The request's own
	// address is not used: a source posting server to server would make
	// every one of its leads look like the same consumer.
	IPField string `yaml:"ip_field,omitempty" json:"ip_field,omitempty"`
	// MinLabels is how many labelled leads the campaign's model needs
	// before it takes part in scores (default DefaultMinLabels).
	MinLabels int `yaml:"min_labels,omitempty" json:"min_labels,omitempty"`
}

// Scoring defaults.
const (
	DefaultVelocityWindow = Duration(24 * 60 * 60 * 1e9)
	DefaultMinLabels      = 200
	DefaultIPField        = "ip_address"
)

// DefaultConsentFields are the fields read as a consent certificate when a
// campaign names none.
var DefaultConsentFields = []string{"trustedform_cert_url", "jornaya_leadid", "consent_cert"}

// Feedback holds the loops that act on outcomes by themselves: each rule
// is off unless configured.
type Feedback struct {
	Sources *SourceLoop `yaml:"sources,omitempty" json:"sources,omitempty"`
	Orders  *OrderLoop  `yaml:"orders,omitempty" json:"orders,omitempty"`
	// SlackURL is a Slack incoming webhook told of every action the loops
	// take (a secret: write-only, sealed when stored).
	SlackURL string `yaml:"slack_url,omitempty" json:"slack_url,omitempty"`
}

// SourceLoop pauses a source, or one of its sub-ids, whose return or fraud
// rate over the window exceeds its limit, and restores it once the rate
// over the window is back under RestoreBelow.
type SourceLoop struct {
	Window Duration `yaml:"window" json:"window"`
	// MinSold is how many sales in the window a rate needs to be judged.
	MinSold int `yaml:"min_sold,omitempty" json:"min_sold,omitempty"`
	// MaxReturnRate is the most returned sales a source may have (0-1).
	MaxReturnRate float64 `yaml:"max_return_rate,omitempty" json:"max_return_rate,omitempty"`
	// MaxFraudRate is the most of its leads returned for fraud (0-1).
	MaxFraudRate float64 `yaml:"max_fraud_rate,omitempty" json:"max_fraud_rate,omitempty"`
	// RestoreBelow is the rate under which a paused source is restored
	// (default: half its limit).
	RestoreBelow float64 `yaml:"restore_below,omitempty" json:"restore_below,omitempty"`
	// SubIDs judges each sub-id apart and pauses only the bad ones.
	SubIDs bool `yaml:"sub_ids,omitempty" json:"sub_ids,omitempty"`
}

// OrderLoop demotes a buyer's order (priority lowered by one step, weight
// halved) while its acceptance rate over the window is under
// MinAcceptance, and restores it once the rate is back over RestoreAbove.
type OrderLoop struct {
	Window Duration `yaml:"window" json:"window"`
	// MinOffers is how many offers in the window a rate needs.
	MinOffers     int     `yaml:"min_offers,omitempty" json:"min_offers,omitempty"`
	MinAcceptance float64 `yaml:"min_acceptance" json:"min_acceptance"`
	// RestoreAbove defaults to MinAcceptance plus a tenth.
	RestoreAbove float64 `yaml:"restore_above,omitempty" json:"restore_above,omitempty"`
}
