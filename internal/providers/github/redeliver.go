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
// guid. asked remembers guids already asked for (across scans), so each is
// asked once; it may be nil.
func (p *Provider) RedeliverFailed(ctx context.Context, since time.Time, done DoneFunc, asked map[string]bool) (RedeliveryReport, error) {
	var rep RedeliveryReport
	if p.api.apps == nil {
		return rep, ErrNoApp
	}
	cl := p.api.newClient(p.api.apps)
	type attempts struct {
		latest int64
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
			if d.GetID() > a.latest {
				a.latest = d.GetID()
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
		if asked[guid] {
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
		// GitHub answers 202 Accepted, which go-github reports as an
		// *AcceptedError: the redelivery is queued.
		if _, _, err := cl.Apps.RedeliverHookDelivery(ctx, a.latest); err != nil && !isAccepted(err) {
			return rep, p.api.classify("redeliver app hook delivery "+strconv.FormatInt(a.latest, 10), err)
		}
		if asked != nil {
			asked[guid] = true
		}
		rep.Redelivered++
		p.log.InfoContext(ctx, "asked GitHub to redeliver a failed delivery", "guid", guid, "delivery_id", a.latest)
	}
	return rep, nil
}

func isAccepted(err error) bool {
	var ae *gh.AcceptedError
	return errors.As(err, &ae)
}
