package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
)

func TestProgressBarText(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name        string
		done, total int64
		elapsed     time.Duration
		want        string
	}{
		{name: "just started", done: 0, total: 10_000_000, want: "0 of 10,000,000 records (0%)"},
		{name: "under a second: no rate yet", done: 5000, total: 10_000_000, elapsed: 500 * time.Millisecond, want: "5,000 of 10,000,000 records (0%)"},
		{name: "rate and time left", done: 4_000_000, total: 10_000_000, elapsed: 40 * time.Second, want: "4,000,000 of 10,000,000 records (40%), 100,000/s, about 1m0s left"},
		{name: "done", done: 1200, total: 1200, elapsed: 2 * time.Second, want: "1,200 of 1,200 records (100%), 600/s"},
		{name: "empty log", done: 0, total: 0, want: "0 of 0 records (100%)"},
		{name: "total unknown", done: 2500, total: -1, elapsed: 5 * time.Second, want: "2,500 records, 500/s"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := &progressBar{now: func() time.Time { return start.Add(tc.elapsed) }, start: start, done: tc.done, total: tc.total}
			if got := p.text(); got != tc.want {
				t.Fatalf("text = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestProgressBarRedrawsInPlaceOnATerminal(t *testing.T) {
	var buf bytes.Buffer
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	p := &progressBar{w: &buf, label: "verifying", tty: true, now: func() time.Time { return now }, start: now}
	p.update(1, 10)
	now = now.Add(100 * time.Millisecond)
	p.update(2, 10) // too soon to redraw
	now = now.Add(200 * time.Millisecond)
	p.update(3, 10)
	p.finish()
	p.finish()
	want := "\rverifying: 1 of 10 records (10%)\x1b[K" +
		"\rverifying: 3 of 10 records (30%)\x1b[K" +
		"\rverifying: 3 of 10 records (30%)\x1b[K\n"
	if got := buf.String(); got != want {
		t.Fatalf("drawn %q\nwant  %q", got, want)
	}
	if strings.Count(buf.String(), "\n") != 1 {
		t.Fatal("finish twice ended the line twice")
	}
}

func TestProgressModes(t *testing.T) {
	tests := []struct {
		mode   progressMode
		wantOn bool
	}{
		{progressAuto, false}, // standard error is a buffer, not a terminal
		{progressAlways, true},
		{progressNever, false},
	}
	for _, tc := range tests {
		t.Run(string(tc.mode), func(t *testing.T) {
			cmd := &cobra.Command{}
			var buf bytes.Buffer
			cmd.SetErr(&buf)
			bar := newProgressBar(cmd, tc.mode, "exporting")
			if (bar != nil) != tc.wantOn {
				t.Fatalf("bar = %v, want on=%v", bar, tc.wantOn)
			}
			bar.update(1, 2)
			bar.finish()
			if got := buf.String(); (got != "") != tc.wantOn || (tc.wantOn && got != "exporting: 1 of 2 records (50%)\n") {
				t.Fatalf("drawn %q", got)
			}
		})
	}
}
