package auction

import "encoding/json"

// pingMessage is the body of every ping: the ping's id, the campaign and
// the lead's non-PII fields.
type pingMessage struct {
	PingID   string         `json:"ping_id"`
	Campaign string         `json:"campaign"`
	Fields   map[string]any `json:"fields"`
}

func pingBody(req Request) []byte {
	b, err := json.Marshal(pingMessage{PingID: req.PingID, Campaign: req.Campaign, Fields: req.Fields})
	if err != nil {
		// Fields come from validation: strings, numbers and booleans.
		b, _ = json.Marshal(pingMessage{PingID: req.PingID, Campaign: req.Campaign, Fields: map[string]any{}})
	}
	return b
}
