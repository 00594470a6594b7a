// Package debugserver serves Go's runtime profiles (net/http/pprof) on a
// listener of its own, for `server.debug_listen`: off by default, bound to
// loopback only, so that a CPU or heap profile of a running replica can be
// taken through kubectl port-forward without exposing it.
package debugserver
