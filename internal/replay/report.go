package replay

import (
	"slices"
	"strings"
	"time"
)

// Report is what a candidate policy would have changed over recorded
// decisions.
type Report struct {
	// From and To are the first and last decision's time.
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
	// Decisions were replayed; Changed of them got another outcome or
	// other denying rules; Errors could not be evaluated.
	Decisions int `json:"decisions"`
	Changed   int `json:"changed"`
	Errors    int `json:"errors"`
	// Transitions count outcome changes, "allow -> deny" and so on.
	Transitions map[string]int `json:"transitions"`
	// Rules count, per rule id, decisions where it newly denied (added)
	// or no longer denied (removed).
	Rules map[string]RuleChange `json:"rules"`
	// Examples are a few changed decisions per transition.
	Examples []Example `json:"examples"`
	// Revisions counts the recorded decisions by the revision that made
	// them.
	Revisions map[string]int `json:"revisions"`

	examplesPer int
	perKind     map[string]int
}

// RuleChange counts one rule's changes.
type RuleChange struct {
	Added   int `json:"added"`
	Removed int `json:"removed"`
}

// Example is one changed decision.
type Example struct {
	Seq       int64     `json:"seq"`
	Time      time.Time `json:"time"`
	Principal string    `json:"principal"`
	Agent     string    `json:"agent,omitempty"`
	Change    string    `json:"change"`
	Was       Summary   `json:"was"`
	Now       Summary   `json:"now"`
	// Error is why the candidate could not decide it.
	Error string `json:"error,omitempty"`
}

// NewReport returns an empty report keeping examplesPer examples of each
// transition.
func NewReport(examplesPer int) *Report {
	return &Report{Transitions: map[string]int{}, Rules: map[string]RuleChange{}, Revisions: map[string]int{},
		Examples: []Example{}, examplesPer: examplesPer, perKind: map[string]int{}}
}

// Add compares one recorded decision with the candidate's; candErr is the
// candidate's evaluation error.
func (r *Report) Add(rec Recorded, cand Summary, candErr error) {
	r.Decisions++
	r.Revisions[rec.Revision]++
	if r.From.IsZero() || rec.Time.Before(r.From) {
		r.From = rec.Time
	}
	if rec.Time.After(r.To) {
		r.To = rec.Time
	}
	ex := Example{Seq: rec.Seq, Time: rec.Time, Principal: rec.Input.Event.Principal, Was: rec.Decision, Now: cand}
	if a := rec.Input.Agent; a != nil {
		ex.Agent = a.Name
	}
	if candErr != nil {
		r.Errors++
		ex.Change, ex.Error = "error", candErr.Error()
		r.example(ex)
		return
	}
	change, added, removed := Compare(rec.Decision, cand)
	if change == "" {
		return
	}
	r.Changed++
	ex.Change = change
	r.Transitions[ex.Change]++
	for _, id := range added {
		c := r.Rules[id]
		c.Added++
		r.Rules[id] = c
	}
	for _, id := range removed {
		c := r.Rules[id]
		c.Removed++
		r.Rules[id] = c
	}
	r.example(ex)
}

func (r *Report) example(ex Example) {
	if r.perKind[ex.Change] >= r.examplesPer {
		return
	}
	r.perKind[ex.Change]++
	r.Examples = append(r.Examples, ex)
}

// Compare says how now differs from was: "" when it does not, else the
// outcome change ("allow -> deny", or "deny (other rules)" when only the
// denying rules differ), with the rules that newly deny and no longer do.
func Compare(was, now Summary) (change string, added, removed []string) {
	added, removed = diff(was.Deny, now.Deny)
	switch {
	case was.Outcome != now.Outcome:
		return was.Outcome + " -> " + now.Outcome, added, removed
	case len(added) > 0 || len(removed) > 0:
		return now.Outcome + " (other rules)", added, removed
	}
	return "", nil, nil
}

// diff returns the ids in b not in a (added) and in a not in b (removed);
// both lists are sorted.
func diff(a, b []string) (added, removed []string) {
	for _, id := range b {
		if !slices.Contains(a, id) {
			added = append(added, id)
		}
	}
	for _, id := range a {
		if !slices.Contains(b, id) {
			removed = append(removed, id)
		}
	}
	return added, removed
}

// SortedTransitions returns the transitions, most frequent first.
func (r *Report) SortedTransitions() []string {
	keys := make([]string, 0, len(r.Transitions))
	for k := range r.Transitions {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		if d := r.Transitions[b] - r.Transitions[a]; d != 0 {
			return d
		}
		return strings.Compare(a, b)
	})
	return keys
}
