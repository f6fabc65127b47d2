// Package routing is the routing decision: given a lead, its campaign and the
// campaign's orders, which orders may buy the lead and in what order they are
// offered it. It does no I/O: the clock, the rotation counters and what the
// store already knows (orders tried, buyers who bought) are inputs, and the
// same Input always gives the same Decision.
//
// # Eligibility
//
// Decide checks every order of Input.Orders and explains each one with a
// Verdict. An order is ineligible for the first reason that applies, in this
// order:
//
//	campaign_paused  the campaign is paused (or Input.Campaign is nil)
//	buyer_paused     the order's buyer is paused
//	order_paused     the order is paused
//	<exclude code>   Input.Exclude names the order ("already_offered",
//	                 "cap_full", or any code the caller chose); passed
//	                 through, "excluded" when the code is empty
//	already_bought   the buyer is in Input.Bought (a buyer buys a lead once)
//	holiday          today, in the schedule's timezone, is one of its holidays
//	schedule_closed  the time is outside the schedule's days and hours
//	filter_failed    a filter does not pass (the first failing one is named)
//
// Caps are not judged here: whether a cap has room is only known when the
// store reserves it, so every candidate carries the CapSpecs its sale must
// reserve, and a reservation that fails comes back as Exclude "cap_full".
//
// # Filters
//
// A filter compares one value of the lead with the filter's value. The value
// is the lead's field of that name, or one of the derived fields:
//
//	score    Lead.Score
//	source   Lead.Source
//	age      the lead's field "age" if the campaign declares one; otherwise
//	         whole minutes since Lead.CreatedAt
//	hour     0-23, the hour now in the buyer's timezone (Buyer.Timezone)
//	weekday  mon..sun, the day now in the buyer's timezone
//
// Two values compare as numbers when both are numeric: Go numbers,
// json.Number, or strings holding a plain decimal number ("25", "-3.5",
// "1e3"; not "0x10", "inf" or "+1"). Otherwise they compare as text, and
// eq, ne, in, not_in, contains and starts_with ignore case (Unicode simple
// folding); gt, gte, lt, lte and between compare text byte-wise, which suits
// dates written YYYY-MM-DD. regex matches the text form with Go's RE2 syntax
// (use (?i) to ignore case); each pattern is compiled at most once per Decide.
//
//	eq, ne           equal, not equal
//	in, not_in       equal to one of a list, to none of it
//	gt, gte, lt, lte ordered comparisons
//	between          [low, high], both ends included
//	exists           true (or no value): the field has a value;
//	                 false: the field has none
//	contains         the text contains the value
//	starts_with      the text starts with the value, or with any value of a
//	                 list (zip prefixes: [902, 903])
//	regex            the text matches the pattern
//
// A field that is absent, null or the empty string has no value; every
// filter on such a field fails except exists: false. A filter that cannot be
// evaluated (a regex that does not compile, between without two values)
// fails too.
//
// # Schedules
//
// A schedule is read in its own timezone, else the buyer's, on the local
// wall clock: across a daylight-saving change "08:00-18:00" still means eight
// to six as the clocks show it, a range that covers the skipped hour of a
// spring-forward day is shorter by an hour, and one that covers the repeated
// hour of a fall-back day is longer by an hour. A range is [start, end), to the
// minute: "08:00-18:00" is open at 17:59 and closed at 18:00; "24:00" ends a
// day. No days means every day; no hours means all day on the listed days.
//
// A range whose end is before its start runs overnight and belongs to the day
// it is listed on: "22:00-02:00" on fri is open from Friday 22:00 to Saturday
// 02:00, whether or not sat is listed, and not on Friday between 00:00 and
// 02:00 unless thu is listed.
//
// A holiday (YYYY-MM-DD in the schedule's timezone) closes its whole calendar
// day, and cancels that day's ranges, including the part of an overnight
// range that would run into the next morning.
//
// # Caps
//
// Each candidate's Caps list every counter its sale must reserve: one CapSpec
// per period with a non-zero cap, first the order's own caps (scope
// "order:buyer/order"), then the buyer's caps across all its orders (scope
// "buyer:buyer"), each in the order hour, day, week, month. The daily count
// and the daily budget share one CapSpec (Limit and Budget), and so do the
// monthly count and budget.
//
// Buckets are periods of the buyer's timezone: "2026-11-24T13" (hour),
// "2026-11-24" (day), "2026-W48" (ISO 8601 week, Monday to Sunday, with the
// ISO year), "2026-11" (month). Ends is the instant the bucket ends, the start
// of the next one on the local wall clock. The repeated hour of a fall-back
// day is one bucket of two hours; an hour or a day that starts in a
// spring-forward gap starts when the gap ends.
//
// # Ranking
//
// Candidates come best first. The caller offers them in this order; a
// rejection or a full cap falls to the next one; a shared campaign
// (max_sales N) sells to the first N distinct buyers, skipping further
// orders of a buyer that bought. Input.Rotation holds, per order, how many
// leads the order was given by rotation so far; ties that remain are broken
// by priority and then by order key, so the ranking is deterministic.
//
//	waterfall    ascending priority; among equal priorities, the fewest
//	             rotation first
//	round_robin  the fewest rotation first, then priority. Orders that are
//	             eligible for the same leads never differ by more than one
//	             lead, whatever other orders are eligible for; during a run
//	             of leads with the same eligible orders the spread of their
//	             counts never grows, and once within one it stays within
//	             one. (An order that was ineligible for a while is behind,
//	             and is served first until it has caught up.)
//	weighted     a quota method: let n be the sum of the candidates' rotation
//	             counts and W the sum of their weights. Candidates still under
//	             their share of the next lead (count × W < (n+1) × weight) come
//	             first, and within each group the smallest (count+1)/weight
//	             first. With a fixed set of orders, every order's count stays
//	             strictly within one lead of n × weight / W. (Plain smallest
//	             (count+1)/weight does not: weights 7,1,1,1,1 drift 2.5 leads.)
//	ping_post    the highest price first, then priority; the live auction
//	             happens after this decision
package routing
