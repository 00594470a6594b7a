package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

func TestIsUnavailable(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, connectErr := pgconn.Connect(ctx, "postgres://postgres@127.0.0.1:1/test?connect_timeout=1")
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{name: "connection refused", err: fmt.Errorf("get agent: %w", connectErr), want: true},
		{name: "connection cut mid-query", err: fmt.Errorf("scan: %w", io.ErrUnexpectedEOF), want: true},
		{name: "admin shutdown", err: &pgconn.PgError{Code: "57P01"}, want: true},
		{name: "cannot connect now", err: &pgconn.PgError{Code: "57P03"}, want: true},
		{name: "connection failure", err: &pgconn.PgError{Code: "08006"}, want: true},
		{name: "too many connections", err: &pgconn.PgError{Code: "53300"}, want: true},
		{name: "unique violation", err: &pgconn.PgError{Code: uniqueViolation}, want: false},
		{name: "syntax error", err: &pgconn.PgError{Code: "42601"}, want: false},
		{name: "other", err: errors.New("boom"), want: false},
	}
	if connectErr == nil {
		t.Fatal("connecting to port 1 succeeded")
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := isUnavailable(tc.err); got != tc.want {
				t.Fatalf("isUnavailable(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}
