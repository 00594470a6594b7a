package github

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	gh "github.com/google/go-github/v62/github"
)

// maxDeliveryPages bounds one scan of the App's deliveries (100 a page).
const maxDeliveryPages = 50

// ErrNoApp says redelivery needs GitHub App credentials: the hook
// deliveries API is the App's (a token reaches only repository hooks).
var ErrNoApp = errors.New("github: redelivering failed deliveries needs GitHub App credentials (github.app_id and github.private_key)")

// DoneFunc reports whether agentgate has processed a delivery, by its
// X-GitHub-Delivery guid.
type DoneFunc func(ctx context.Context, guid string) (bool, error)

// Redelivery is one failed delivery agentgate asked GitHub to deliver
// again.
type Redelivery struct {
	// GUID is the delivery's X-GitHub-Delivery, the same on every attempt.
	GUID string
	// DeliveryID is the attempt asked for again (the latest).
	DeliveryID int64
	// Event and Action are the webhook's; StatusCode is what agentgate
	// answered the latest attempt (0 when GitHub could not connect).
	Event, Action string
	StatusCode    int
	DeliveredAt   time.Time
}

// AskLog remembers the failed deliveries asked for again, so that each is
// asked once across scans, restarts and replicas.
type AskLog interface {
	// WasAsked reports whether guid was asked for again already.
	WasAsked(ctx context.Context, guid string) (bool, error)
	// Asked records that r was asked for (GitHub accepted the request).
	Asked(ctx context.Context, r Redelivery) error
}

// RedeliveryReport is what one scan found and did.
type RedeliveryReport struct {
	// Scanned counts the deliveries read; Failed the guids none of whose
	// attempts GitHub saw answered 2xx; Redelivered those asked again.
	Scanned, Failed, Redelivered int
	// Skipped counts failed guids agentgate processed anyway (a 2xx lost
	// on the way back) or asked again already.
	Skipped int
}

// RedeliverFailed asks GitHub to deliver again the App webhook deliveries
// since the given time that never got a 2xx answer and that agentgate has
// not processed: GitHub never redelivers on its own, so a deployment
// protection rule delivered while agentgate could not decide would
// otherwise wait until it times out. It reads GET /app/hook/deliveries
// (newest first, cursor pages) and posts
// /app/hook/deliveries/{id}/attempts for the latest attempt of each such
// guid that asked has no record of, and records it there.
func (p *Provider) RedeliverFailed(ctx context.Context, since time.Time, done DoneFunc, asked AskLog) (RedeliveryReport, error) {
	var rep RedeliveryReport
	if p.api.apps == nil {
		return rep, ErrNoApp
	}
	cl := p.api.newClient(p.api.apps)
	type attempts struct {
		latest *gh.HookDelivery
		ok     bool
	}
	byGUID := map[string]*attempts{}
	var order []string
	opts := &gh.ListCursorOptions{PerPage: 100}
	for page := 0; page < maxDeliveryPages; page++ {
		list, resp, err := cl.Apps.ListHookDeliveries(ctx, opts)
		if err != nil {
			return rep, p.api.classify("list app hook deliveries", err)
		}
		older := false
		for _, d := range list {
			if d.GetDeliveredAt().Time.Before(since) {
				older = true
				continue
			}
			rep.Scanned++
			guid := d.GetGUID()
			a, seen := byGUID[guid]
			if !seen {
				a = &attempts{}
				byGUID[guid] = a
				order = append(order, guid)
			}
			if a.latest == nil || d.GetID() > a.latest.GetID() {
				a.latest = d
			}
			if code := d.GetStatusCode(); code >= 200 && code < 300 {
				a.ok = true
			}
		}
		if older || resp == nil || resp.Cursor == "" {
			break
		}
		opts.Cursor = resp.Cursor
	}
	for _, guid := range order {
		a := byGUID[guid]
		if a.ok || guid == "" {
			continue
		}
		rep.Failed++
		was, err := asked.WasAsked(ctx, guid)
		if err != nil {
			return rep, fmt.Errorf("github: was delivery %s asked for again: %w", guid, err)
		}
		if was {
			rep.Skipped++
			continue
		}
		processed, err := done(ctx, guid)
		if err != nil {
			return rep, fmt.Errorf("github: was delivery %s processed: %w", guid, err)
		}
		if processed {
			rep.Skipped++
			continue
		}
		id := a.latest.GetID()
		// GitHub answers 202 Accepted, which go-github reports as an
		// *AcceptedError: the redelivery is queued.
		if _, _, err := cl.Apps.RedeliverHookDelivery(ctx, id); err != nil && !isAccepted(err) {
			return rep, p.api.classify("redeliver app hook delivery "+strconv.FormatInt(id, 10), err)
		}
		rep.Redelivered++
		r := Redelivery{GUID: guid, DeliveryID: id, Event: a.latest.GetEvent(), Action: a.latest.GetAction(),
			StatusCode: a.latest.GetStatusCode(), DeliveredAt: a.latest.GetDeliveredAt().Time}
		if err := asked.Asked(ctx, r); err != nil {
			return rep, fmt.Errorf("github: record that delivery %s was asked for again: %w", guid, err)
		}
		p.log.InfoContext(ctx, "asked GitHub to redeliver a failed delivery", "guid", guid, "delivery_id", id, "event", r.Event)
	}
	return rep, nil
}

func isAccepted(err error) bool {
	var ae *gh.AcceptedError
	return errors.As(err, &ae)
}
