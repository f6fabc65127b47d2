package auction

import "encoding/json"

// pingMessage is the body of every ping: the ping's id, the campaign,
// the lead's non-PII fields and its score (0-100) when it has one.
type pingMessage struct {
	PingID   string         `json:"ping_id"`
	Campaign string         `json:"campaign"`
	Fields   map[string]any `json:"fields"`
	Score    *int           `json:"score,omitempty"`
}

func pingBody(req Request) []byte {
	b, err := json.Marshal(pingMessage{PingID: req.PingID, Campaign: req.Campaign, Fields: req.Fields, Score: req.Score})
	if err != nil {
		// Fields come from validation: strings, numbers and booleans.
		b, _ = json.Marshal(pingMessage{PingID: req.PingID, Campaign: req.Campaign, Fields: map[string]any{}, Score: req.Score})
	}
	return b
}
