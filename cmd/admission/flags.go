package main

import "net/url"

// secretValue is a string flag that never prints its value: help shows a
// default taken from the environment as "(set)", so `--help` cannot leak
// a token into a terminal, a CI log or a screenshot.
type secretValue struct{ p *string }

func (s secretValue) String() string {
	if s.p == nil || *s.p == "" {
		return ""
	}
	return "(set)"
}

func (s secretValue) Set(v string) error { *s.p = v; return nil }

func (s secretValue) Type() string { return "string" }

// urlValue is a URL flag that prints its value with any password in it
// masked (https://user:xxxxx@host).
type urlValue struct{ p *string }

func (u urlValue) String() string {
	if u.p == nil || *u.p == "" {
		return ""
	}
	parsed, err := url.Parse(*u.p)
	if err != nil {
		return "(set)"
	}
	return parsed.Redacted()
}

func (u urlValue) Set(v string) error { *u.p = v; return nil }

func (u urlValue) Type() string { return "string" }
