// Package event defines the normalized event: the one shape into which every
// provider (GitHub, GitLab, Argo, the generic webhook) turns what happened, and
// which the admission pipeline, policies and audit log consume.
package event
