// Package console is the web console served by `admission serve` at /ui:
// server-rendered pages (html/template, embedded) for the people who
// govern agents. This release has sign-in with an API token, the agents
// list and an agent's page; people see names, with ids in the details.
//
// A session is a cookie signed with HMAC-SHA256 (HttpOnly, SameSite=Strict,
// Secure over TLS, path /ui) that names the person and role and carries
// the session's CSRF token; every state change is a POST that must repeat
// that token. Agent tokens cannot sign in.
package console
