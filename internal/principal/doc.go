// Package principal defines the one canonical form of a principal, the
// provider-qualified name of an actor such as "github:coder-bot[bot]" or
// "k8s:system:serviceaccount:ci:agent".
//
// Every principal is canonicalized before it is stored (agent registration
// and updates), before it is looked up (identification of every event) and
// in every query that takes one. Two spellings that a provider treats as the
// same account therefore resolve to the same agent, and a spelling that no
// provider can produce (whitespace, control or format characters, invalid
// UTF-8) is refused instead of being mistaken for a human:
//
//   - the provider prefix is lower-cased;
//   - logins of providers that compare them case-insensitively (github,
//     github-app, gitlab) are ASCII-only and lower-cased;
//   - Kubernetes service-account names are ASCII, as the API server
//     requires; other names keep their case and are normalized to Unicode
//     NFC;
//   - a principal containing a character of Unicode category Cc, Cf or Z
//     anywhere is invalid: it is never trimmed, since a trailing space or a
//     zero-width character is an attempt to look like someone else, not a
//     typing mistake.
package principal
