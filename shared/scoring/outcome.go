package scoring

// Events that befall a lead, as Label reads them.
const (
	// EventSold: a buyer bought the lead.
	EventSold = "sold"
	// EventRejected: every buyer offered the lead refused it.
	EventRejected = "rejected"
	// EventReturned: a buyer returned the lead.
	EventReturned = "returned"
	// EventReturnedFraud: a buyer returned the lead as fraud.
	EventReturnedFraud = "returned_fraud"
	// EventContacted, EventQualified, EventConverted, EventNotConverted:
	// what a buyer reported (POST /v1/outcomes).
	EventContacted    = "contacted"
	EventQualified    = "qualified"
	EventConverted    = "converted"
	EventNotConverted = "not_converted"
)

// Label weights: how much one lead's outcome counts in training.
const (
	// WeightFraud is a lead returned as fraud: the costliest outcome, and
	// the surest that the lead was bad.
	WeightFraud = 3
	// WeightConverted is a lead the buyer converted: the surest good.
	WeightConverted = 2
	// WeightPlain is every other labelled outcome.
	WeightPlain = 1
	// WeightSoldOnly is a lead sold and never heard of again: good enough
	// for its buyer to keep, which says little.
	WeightSoldOnly = 0.3
	// WeightRejected is a lead every buyer refused: often the buyers'
	// filters and caps rather than the lead.
	WeightRejected = 0.5
)

// Label makes a training label of what became of a lead (its events, in
// any order): whether its outcome was good, how much that counts, and
// whether there is a label at all. The most telling event decides, in this
// order:
//
//	returned_fraud   bad,  weight 3   (fraud outweighs anything else)
//	returned         bad,  weight 1   (the buyer took its money back)
//	converted        good, weight 2
//	not_converted    bad,  weight 1
//	qualified        good, weight 1
//	contacted        good, weight 1
//	sold             good, weight 0.3 (sold and kept, nothing reported)
//	rejected         bad,  weight 0.5 (no buyer wanted it)
//
// A lead with none of these events (not yet routed, or unknown events
// only) has no label: ok is false.
func Label(events []string) (label bool, weight float64, ok bool) {
	best := -1
	for _, e := range events {
		rank, good, w := eventLabel(e)
		if rank >= 0 && (best < 0 || rank < best) {
			best, label, weight, ok = rank, good, w, true
		}
	}
	return label, weight, ok
}

// eventLabel is an event's place in Label's order (-1 for an unknown
// event) and the label it gives.
func eventLabel(e string) (rank int, good bool, weight float64) {
	switch e {
	case EventReturnedFraud:
		return 0, false, WeightFraud
	case EventReturned:
		return 1, false, WeightPlain
	case EventConverted:
		return 2, true, WeightConverted
	case EventNotConverted:
		return 3, false, WeightPlain
	case EventQualified:
		return 4, true, WeightPlain
	case EventContacted:
		return 5, true, WeightPlain
	case EventSold:
		return 6, true, WeightSoldOnly
	case EventRejected:
		return 7, false, WeightRejected
	}
	return -1, false, 0
}
