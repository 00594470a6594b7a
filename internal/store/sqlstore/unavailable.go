package sqlstore

import (
	"database/sql"
	"database/sql/driver"
	"errors"
	"net"
	"syscall"
)

// Unavailable reports whether err says the database cannot be reached or
// cannot write now: a lost or refused connection (any driver), or what the
// dialect says (a server shutting down, a disk I/O error).
func (s *Store) Unavailable(err error) bool {
	if err == nil {
		return false
	}
	var ne net.Error
	switch {
	case errors.Is(err, driver.ErrBadConn), errors.Is(err, sql.ErrConnDone),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE),
		errors.As(err, &ne):
		return true
	}
	return s.dialect.IsUnavailable != nil && s.dialect.IsUnavailable(err)
}
