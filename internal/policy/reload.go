package policy

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"
)

// LoadDir returns an engine serving the policy set in directory dir. The set
// must compile and its Rego tests must pass (opts.SkipTests is ignored): a
// broken directory at start is an error, not a fallback. opts.FS and
// opts.Source are replaced by the directory.
func LoadDir(ctx context.Context, dir string, opts Options) (*Engine, error) {
	if _, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("policy: directory %s: %w", dir, err)
	}
	opts.FS = os.DirFS(dir)
	opts.Source = dirSource(dir)
	opts.SkipTests = false
	return New(ctx, opts)
}

// Reload validates the policy set in fsys and, when it is good, serves it in
// place of the current one. Validation loads the files, compiles the modules,
// evaluates a smoke input and runs the set's Rego tests: a set that fails any
// step is rejected, the current set keeps serving, Status().LastError says
// why and the error is returned. Reloading a set identical to the served one
// (same revision, same source) does nothing. Options.OnReload is told the
// outcome of every attempt that is not a no-op.
func (e *Engine) Reload(ctx context.Context, fsys fs.FS, source string) error {
	_, err := e.reload(ctx, fsys, source)
	return err
}

// reload is Reload that also returns the candidate's revision ("" when its
// files could not be read).
func (e *Engine) reload(ctx context.Context, fsys fs.FS, source string) (string, error) {
	e.loadMu.Lock()
	defer e.loadMu.Unlock()

	previous := e.current.Load()
	ev := ReloadEvent{Source: source}
	if previous != nil {
		ev.Previous = previous.revision
	}
	if fsys == nil {
		ev.Err = errors.New("no file system given")
	} else {
		var candidate *prepared
		candidate, ev.Tests, ev.Err = e.build(ctx, fsys, source, true)
		if candidate != nil {
			ev.Revision = candidate.revision
		}
		if ev.Err == nil {
			if previous != nil && previous.revision == candidate.revision && previous.source == source {
				// Back to the set being served after a rejected one:
				// nothing to swap, but whoever watches health must hear
				// that all is well again.
				recovered := e.getLastError() != ""
				e.setLastError("")
				if recovered && e.onReload != nil {
					e.onReload(ev)
				}
				return candidate.revision, nil
			}
			e.current.Store(candidate)
		}
	}

	if ev.Err != nil {
		ev.Err = fmt.Errorf("policy: reload %s rejected, still serving %s: %w", source, revisionOrNone(ev.Previous), ev.Err)
		e.setLastError(ev.Err.Error())
		e.logger.Error("policy reload rejected", "source", source, "revision", ev.Revision,
			"serving", ev.Previous, "error", ev.Err)
	} else {
		e.setLastError("")
		e.logger.Info("policy reloaded", "source", source, "revision", ev.Revision,
			"previous", ev.Previous, "tests_passed", ev.Tests)
	}
	if e.onReload != nil {
		e.onReload(ev)
	}
	return ev.Revision, ev.Err
}

// Watch polls directory dir every interval and reloads the engine from it
// when its content changes (see Reload). It compares content hashes, not
// modification times, so it also notices the atomic symlink swap of a
// Kubernetes ConfigMap volume, and it tries a rejected content only once. It
// checks once at start and returns ctx.Err() when ctx is done.
func (e *Engine) Watch(ctx context.Context, dir string, interval time.Duration) error {
	if interval <= 0 {
		return fmt.Errorf("policy: watch %s: interval must be positive, got %s", dir, interval)
	}
	fsys := os.DirFS(dir)
	source := dirSource(dir)
	seen := e.Revision()
	if p := e.current.Load(); p == nil || p.source != source {
		// Serving another source (e.g. the embedded set): load dir even if
		// its content happens to be the same.
		seen = ""
	}
	// readErr is the current read error; seenErr is the outcome of the
	// attempt to load the content seen ("" when it was accepted).
	var readErr, seenErr string
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		rev, err := setRevision(fsys)
		switch {
		case err != nil:
			// The directory may be missing for a moment; say so once per
			// distinct error and keep serving.
			if err.Error() != readErr {
				readErr = err.Error()
				e.setReadError(source, err)
			}
		case rev != seen:
			readErr = ""
			got, err := e.reload(ctx, fsys, source)
			seen, seenErr = rev, ""
			if got != "" {
				seen = got
			}
			if err != nil {
				seenErr = err.Error()
			}
		case readErr != "":
			// Readable again and unchanged: back to the state before.
			readErr = ""
			e.setLastError(seenErr)
			if seenErr == "" && e.onReload != nil {
				e.onReload(ReloadEvent{Source: source, Revision: rev, Previous: e.Revision()})
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ticker.C:
		}
	}
}

// setReadError records that a watched directory could not be read.
func (e *Engine) setReadError(source string, err error) {
	e.loadMu.Lock()
	defer e.loadMu.Unlock()
	ev := ReloadEvent{Source: source, Previous: e.Revision()}
	ev.Err = fmt.Errorf("policy: read %s, still serving %s: %w", source, revisionOrNone(ev.Previous), err)
	e.setLastError(ev.Err.Error())
	e.logger.Error("policy directory unreadable", "source", source, "serving", ev.Previous, "error", err)
	if e.onReload != nil {
		e.onReload(ev)
	}
}

func dirSource(dir string) string { return "dir:" + dir }

func revisionOrNone(rev string) string {
	if rev == "" {
		return "no policy"
	}
	return rev
}
