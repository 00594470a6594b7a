package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// progressMode is the --progress flag: when to draw a progress bar on
// standard error.
type progressMode string

const (
	progressAuto   progressMode = "auto" // when standard error is a terminal
	progressAlways progressMode = "always"
	progressNever  progressMode = "never"
)

func (m *progressMode) String() string { return string(*m) }
func (m *progressMode) Type() string   { return "auto|always|never" }
func (m *progressMode) Set(v string) error {
	switch progressMode(v) {
	case progressAuto, progressAlways, progressNever:
		*m = progressMode(v)
		return nil
	}
	return fmt.Errorf("%q is not auto, always or never", v)
}

// progressFlag adds --progress to cmd.
func progressFlag(cmd *cobra.Command, m *progressMode) {
	*m = progressAuto
	cmd.Flags().Var(m, "progress", "progress bar on standard error: auto (when it is a terminal), always, never")
}

// progressBar draws "<label>: done of total records (pct), rate/s, about
// N left" on w: redrawn in place at most five times a second on a
// terminal, one line every ten seconds otherwise.
type progressBar struct {
	w     io.Writer
	label string
	tty   bool
	now   func() time.Time
	start time.Time
	last  time.Time
	shown bool
	drawn int64 // done when last drawn
	ended bool
	done  int64
	total int64
}

// newProgressBar returns the bar m asks for on cmd's standard error, or
// nil (whose methods do nothing) when there is to be none.
func newProgressBar(cmd *cobra.Command, m progressMode, label string) *progressBar {
	w := cmd.ErrOrStderr()
	tty := false
	if f, ok := w.(*os.File); ok {
		tty = term.IsTerminal(int(f.Fd()))
	}
	if m == progressNever || (m == progressAuto && !tty) {
		return nil
	}
	now := time.Now
	return &progressBar{w: w, label: label, tty: tty, now: now, start: now()}
}

// update records progress and redraws the bar when it is due.
func (p *progressBar) update(done, total int64) {
	if p == nil {
		return
	}
	p.done, p.total = done, total
	every := 10 * time.Second
	if p.tty {
		every = 200 * time.Millisecond
	}
	if t := p.now(); t.Sub(p.last) >= every {
		p.last = t
		p.draw()
	}
}

// totalOr returns the last total reported, or def for no bar.
func (p *progressBar) totalOr(def int64) int64 {
	if p == nil {
		return def
	}
	return p.total
}

// finish draws the final state and ends the line; later calls do nothing.
func (p *progressBar) finish() {
	if p == nil || p.ended {
		return
	}
	p.ended = true
	if !p.shown && p.done == 0 {
		return
	}
	if !p.shown || p.drawn != p.done || p.tty {
		p.draw()
	}
	if p.tty {
		fmt.Fprintln(p.w)
	}
}

func (p *progressBar) draw() {
	p.shown, p.drawn = true, p.done
	line := p.label + ": " + p.text()
	if p.tty {
		fmt.Fprint(p.w, "\r"+line+"\x1b[K")
		return
	}
	fmt.Fprintln(p.w, line)
}

// text is the bar's words, without the label.
func (p *progressBar) text() string {
	elapsed := p.now().Sub(p.start)
	s := groupDigits(p.done)
	if p.total >= 0 {
		pct := 100.0
		if p.total > 0 {
			pct = 100 * float64(p.done) / float64(p.total)
		}
		s += fmt.Sprintf(" of %s records (%.0f%%)", groupDigits(p.total), pct)
	} else {
		s += " records"
	}
	if elapsed < time.Second || p.done == 0 {
		return s
	}
	rate := float64(p.done) / elapsed.Seconds()
	s += fmt.Sprintf(", %s/s", groupDigits(int64(rate)))
	if left := p.total - p.done; p.total >= 0 && left > 0 {
		s += ", about " + time.Duration(float64(left)/rate*float64(time.Second)).Round(time.Second).String() + " left"
	}
	return s
}

// groupDigits writes n with thousands separators: 10,000,000.
func groupDigits(n int64) string {
	s := fmt.Sprint(n)
	neg := len(s) > 0 && s[0] == '-'
	if neg {
		s = s[1:]
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	if neg {
		s = "-" + s
	}
	return s
}
