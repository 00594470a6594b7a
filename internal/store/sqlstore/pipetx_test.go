package sqlstore

import (
	"database/sql"
	"testing"
)

func TestBeginSQL(t *testing.T) {
	tests := []struct {
		name  string
		level sql.IsolationLevel
		want  string
	}{
		{"read committed", sql.LevelReadCommitted, "BEGIN ISOLATION LEVEL READ COMMITTED"},
		{"repeatable read", sql.LevelRepeatableRead, "BEGIN ISOLATION LEVEL REPEATABLE READ"},
		{"serializable", sql.LevelSerializable, "BEGIN ISOLATION LEVEL SERIALIZABLE"},
		{"the server's default", sql.LevelDefault, "BEGIN"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := beginSQL(tc.level); got != tc.want {
				t.Fatalf("beginSQL(%v) = %q, want %q", tc.level, got, tc.want)
			}
		})
	}
}
