package sqlstore

import (
	"testing"
	"testing/fstest"
)

func TestLoadMigrations(t *testing.T) {
	file := func(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }
	tests := []struct {
		name    string
		fsys    fstest.MapFS
		want    []string
		wantErr bool
	}{
		{name: "ordered by version, not by name", fsys: fstest.MapFS{
			"10_later.sql": file("B"), "0002_second.sql": file("A"), "0001_first.sql": file("0"), "README.md": file("x"),
		}, want: []string{"0001_first.sql", "0002_second.sql", "10_later.sql"}},
		{name: "no version", fsys: fstest.MapFS{"init.sql": file("x")}, wantErr: true},
		{name: "version zero", fsys: fstest.MapFS{"0000_init.sql": file("x")}, wantErr: true},
		{name: "duplicate version", fsys: fstest.MapFS{"0001_a.sql": file("x"), "1_b.sql": file("y")}, wantErr: true},
		{name: "none", fsys: fstest.MapFS{"README.md": file("x")}, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ms, err := loadMigrations(tc.fsys)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("loaded %+v, want an error", ms)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, m := range ms {
				names = append(names, m.name)
			}
			if len(names) != len(tc.want) {
				t.Fatalf("names %v, want %v", names, tc.want)
			}
			for i := range names {
				if names[i] != tc.want[i] || ms[i].sql != string(tc.fsys[names[i]].Data) {
					t.Fatalf("names %v, want %v", names, tc.want)
				}
			}
		})
	}
}
