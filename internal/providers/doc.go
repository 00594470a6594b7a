// Package providers defines what a webhook provider implements: verify an
// incoming delivery, parse it into normalized events, and optionally enforce
// a decision back through the provider's API. Providers never decide; the
// gate does. The server mounts every provider in the Registry built by
// cmd/admission — there is no init() registration.
package providers
