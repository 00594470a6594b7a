package slack

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/slack-go/slack"
)

const (
	// cacheTTL is how long user group members, handles and profiles are
	// reused before Slack is asked again.
	cacheTTL = time.Minute
	// cacheSweep is the size past which expired cache entries are dropped.
	cacheSweep = 1024
)

// Approvers entries naming Slack user groups.
const (
	groupIDPrefix     = "subteam:"   // subteam:S0123ABC
	groupMention      = "<!subteam^" // <!subteam^S0123ABC|@sre-oncall>, as Slack writes mentions
	groupHandlePrefix = "@"          // @sre-oncall
)

// cached is a value fetched from Slack at a time.
type cached[T any] struct {
	v  T
	at time.Time
}

// directory answers who a Slack user is and which user groups they are
// in, caching Slack's answers for cacheTTL.
type directory struct {
	api *slack.Client
	now func() time.Time

	mu       sync.Mutex
	members  map[string]cached[map[string]bool] // group id → member ids
	handles  *cached[map[string]string]         // handle → group id
	profiles map[string]cached[string]          // user id → e-mail
}

func newDirectory(api *slack.Client, now func() time.Time) *directory {
	return &directory{
		api: api, now: now,
		members:  map[string]cached[map[string]bool]{},
		profiles: map[string]cached[string]{},
	}
}

// clicker describes the Slack user u to the approval service for an
// approval naming approvers: their e-mail (for the prompter rule) and the
// approvers entries naming user groups they belong to. A failed group
// lookup is an error only when no entry names the user directly.
func (d *directory) clicker(ctx context.Context, u slack.User, approvers []string) (Clicker, error) {
	c := Clicker{UserID: u.ID, UserName: u.Username}
	if c.UserName == "" {
		c.UserName = u.Name
	}
	email, err := d.email(ctx, u.ID)
	if err != nil {
		// Fail closed: without the e-mail the prompter rule could miss.
		return Clicker{}, fmt.Errorf("users.info %s: %w", u.ID, err)
	}
	c.Email = email
	named := false
	var lookupErr error
	for _, entry := range approvers {
		if strings.EqualFold(strings.TrimPrefix(entry, "user:"), u.ID) {
			named = true
			continue
		}
		id, handle, ok := parseGroupEntry(entry)
		if !ok {
			continue
		}
		in, err := d.inGroup(ctx, u.ID, id, handle)
		if err != nil {
			lookupErr = fmt.Errorf("user group %s: %w", entry, err)
			continue
		}
		if in {
			c.Groups = append(c.Groups, entry)
		}
	}
	if lookupErr != nil && !named && len(c.Groups) == 0 {
		return Clicker{}, lookupErr
	}
	return c, nil
}

// parseGroupEntry recognises an approvers entry naming a Slack user group
// by id ("subteam:S…", "<!subteam^S…|@handle>") or by handle ("@handle").
func parseGroupEntry(entry string) (id, handle string, ok bool) {
	switch {
	case strings.HasPrefix(entry, groupIDPrefix):
		id = strings.TrimPrefix(entry, groupIDPrefix)
	case strings.HasPrefix(entry, groupMention) && strings.HasSuffix(entry, ">"):
		id = strings.TrimSuffix(strings.TrimPrefix(entry, groupMention), ">")
		id, _, _ = strings.Cut(id, "|")
	case strings.HasPrefix(entry, groupHandlePrefix):
		handle = strings.ToLower(strings.TrimPrefix(entry, groupHandlePrefix))
		return "", handle, handle != ""
	default:
		return "", "", false
	}
	return id, "", isGroupID(id)
}

// isGroupID reports whether s has the shape of a Slack user group id.
func isGroupID(s string) bool {
	if len(s) < 3 || len(s) > 32 || s[0] != 'S' {
		return false
	}
	for _, r := range s[1:] {
		if (r < 'A' || r > 'Z') && (r < '0' || r > '9') {
			return false
		}
	}
	return true
}

// inGroup reports whether user is a member of the group with that id, or
// with that handle when id is empty.
func (d *directory) inGroup(ctx context.Context, user, id, handle string) (bool, error) {
	if id == "" {
		var err error
		if id, err = d.groupID(ctx, handle); err != nil {
			return false, err
		}
		if id == "" {
			return false, nil
		}
	}
	now := d.now()
	d.mu.Lock()
	c, ok := d.members[id]
	d.mu.Unlock()
	if !ok || now.Sub(c.at) > cacheTTL {
		users, err := d.api.GetUserGroupMembersContext(ctx, id)
		if err != nil {
			return false, fmt.Errorf("usergroups.users.list: %w", err)
		}
		set := make(map[string]bool, len(users))
		for _, u := range users {
			set[u] = true
		}
		c = cached[map[string]bool]{v: set, at: now}
		d.mu.Lock()
		d.members[id] = c
		sweep(d.members, now)
		d.mu.Unlock()
	}
	return c.v[user], nil
}

// groupID returns the id of the user group with that handle, "" if none.
func (d *directory) groupID(ctx context.Context, handle string) (string, error) {
	now := d.now()
	d.mu.Lock()
	h := d.handles
	d.mu.Unlock()
	if h == nil || now.Sub(h.at) > cacheTTL {
		groups, err := d.api.GetUserGroupsContext(ctx)
		if err != nil {
			return "", fmt.Errorf("usergroups.list: %w", err)
		}
		m := make(map[string]string, len(groups))
		for _, g := range groups {
			m[strings.ToLower(g.Handle)] = g.ID
		}
		h = &cached[map[string]string]{v: m, at: now}
		d.mu.Lock()
		d.handles = h
		d.mu.Unlock()
	}
	return h.v[handle], nil
}

// email returns the user's profile e-mail ("" when the app may not read
// it).
func (d *directory) email(ctx context.Context, user string) (string, error) {
	now := d.now()
	d.mu.Lock()
	c, ok := d.profiles[user]
	d.mu.Unlock()
	if ok && now.Sub(c.at) <= cacheTTL {
		return c.v, nil
	}
	u, err := d.api.GetUserInfoContext(ctx, user)
	if err != nil {
		return "", err
	}
	d.mu.Lock()
	d.profiles[user] = cached[string]{v: u.Profile.Email, at: now}
	sweep(d.profiles, now)
	d.mu.Unlock()
	return u.Profile.Email, nil
}

// sweep drops expired entries once a cache grows past cacheSweep. The
// caller holds the lock.
func sweep[T any](m map[string]cached[T], now time.Time) {
	if len(m) <= cacheSweep {
		return
	}
	for k, c := range m {
		if now.Sub(c.at) > cacheTTL {
			delete(m, k)
		}
	}
}
