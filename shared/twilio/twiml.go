package twilio

import "encoding/xml"

// ContentType is the media type of a TwiML answer.
const ContentType = "text/xml"

// Response is a TwiML document: its verbs in order.
type Response struct {
	XMLName xml.Name `xml:"Response"`
	Verbs   []any
}

// Say speaks text to the caller.
type Say struct {
	XMLName xml.Name `xml:"Say"`
	Text    string   `xml:",chardata"`
}

// Hangup ends the call.
type Hangup struct {
	XMLName xml.Name `xml:"Hangup"`
}

// Reject refuses a call before it is answered (the caller is not billed).
type Reject struct {
	XMLName xml.Name `xml:"Reject"`
	Reason  string   `xml:"reason,attr,omitempty"`
}

// Gather asks the caller a question (Say) and posts the keys pressed
// (Digits) to Action with the call's parameters.
type Gather struct {
	XMLName   xml.Name `xml:"Gather"`
	Action    string   `xml:"action,attr,omitempty"`
	Method    string   `xml:"method,attr,omitempty"`
	Input     string   `xml:"input,attr,omitempty"`
	NumDigits int      `xml:"numDigits,attr,omitempty"`
	Timeout   int      `xml:"timeout,attr,omitempty"`
	Say       Say
}

// Dial connects the caller to one number. Action is where Twilio posts
// the dial's outcome (DialCallStatus, DialCallDuration, …); Timeout is
// how many seconds the number may ring.
type Dial struct {
	XMLName xml.Name `xml:"Dial"`
	Action  string   `xml:"action,attr,omitempty"`
	Method  string   `xml:"method,attr,omitempty"`
	Timeout int      `xml:"timeout,attr,omitempty"`
	// Record is Twilio's record attribute ("record-from-answer-dual"), or
	// "" for none.
	Record   string `xml:"record,attr,omitempty"`
	CallerID string `xml:"callerId,attr,omitempty"`
	Number   Number
}

// Number is the number a Dial calls, with its status callbacks.
type Number struct {
	XMLName              xml.Name `xml:"Number"`
	StatusCallback       string   `xml:"statusCallback,attr,omitempty"`
	StatusCallbackEvent  string   `xml:"statusCallbackEvent,attr,omitempty"`
	StatusCallbackMethod string   `xml:"statusCallbackMethod,attr,omitempty"`
	Phone                string   `xml:",chardata"`
}

// Marshal writes the document with its XML declaration.
func (r Response) Marshal() string {
	b, err := xml.Marshal(r)
	if err != nil {
		// Only the types above go into Verbs; they always encode.
		return xml.Header + "<Response><Hangup></Hangup></Response>"
	}
	return xml.Header + string(b)
}
