package sqlstore

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// micros encodes a time as unix microseconds (UTC).
func micros(t time.Time) int64 { return t.UnixMicro() }

// fromMicros decodes unix microseconds as a UTC time.
func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

// nullMicros encodes an optional time; nil is NULL.
func nullMicros(t *time.Time) sql.NullInt64 {
	if t == nil {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: micros(*t), Valid: true}
}

// timePtr decodes an optional time.
func timePtr(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := fromMicros(v.Int64)
	return &t
}

// encodeJSON encodes v as JSON text.
func encodeJSON(what string, v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("sqlstore: encode %s: %w", what, err)
	}
	return string(b), nil
}

// decodeJSON decodes JSON text into v.
func decodeJSON(what, s string, v any) error {
	if err := json.Unmarshal([]byte(s), v); err != nil {
		return fmt.Errorf("sqlstore: decode %s: %w", what, err)
	}
	return nil
}

// boolInt encodes a boolean as INTEGER 0/1.
func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// rowScanner is what *sql.Row and *sql.Rows share.
type rowScanner interface {
	Scan(dest ...any) error
}

// where builds a conjunction of conditions with numbered placeholders.
type where struct {
	conds []string
	args  []any
}

// add appends cond, whose single "?" becomes the placeholder bound to arg.
func (w *where) add(cond string, arg any) {
	w.conds = append(w.conds, strings.Replace(cond, "?", w.bind(arg), 1))
}

// bind appends arg and returns its placeholder.
func (w *where) bind(arg any) string {
	w.args = append(w.args, arg)
	return "$" + strconv.Itoa(len(w.args))
}

// clause returns " WHERE ..." or "" when there are no conditions.
func (w *where) clause() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}

// placeholders returns "($first, ..., $first+n-1)" for one row of n values.
func placeholders(first, n int) string {
	var b strings.Builder
	b.WriteByte('(')
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('$')
		b.WriteString(strconv.Itoa(first + i))
	}
	b.WriteByte(')')
	return b.String()
}
