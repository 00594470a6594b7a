// Package tcpproxy is a loopback TCP proxy for tests that must cut a
// real server off (a database outage: refused connections, or a network
// that answers nothing) and bring it back, without stopping the server
// other tests share.
package tcpproxy
