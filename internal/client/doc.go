// Package client is a typed Go client for the agentgate admission API
// (/api/v1).
//
// It reuses the server's own types (agents.Agent, store.KillSwitch,
// audit.Record, gate.Result, registry.Spec, ...) so that what a client
// sends and receives is exactly what the server encodes. Only the response
// envelopes the server keeps private (list wrappers, the audit page, the
// verification result, ...) are declared here.
//
// Every method takes a context first. A non-2xx answer is returned as an
// *APIError carrying the HTTP status and the server's error code, message
// and request id:
//
//	c, err := client.New(client.Options{BaseURL: "https://gate.example", Token: tok})
//	if err != nil { ... }
//	a, err := c.GetAgent(ctx, "octo-bot")
//	var apiErr *client.APIError
//	if errors.As(err, &apiErr) && apiErr.Status == http.StatusNotFound { ... }
//
// Time-outs come from the http.Client (30 seconds by default). That limit
// covers reading the whole response, so callers streaming a long audit
// export should pass an http.Client without an overall Timeout and bound
// the call with its context instead.
//
// The API token is sent only in the Authorization header; the client never
// logs it, and its String and GoString methods redact it.
package client
