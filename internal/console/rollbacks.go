package console

import (
	"context"
	"net/http"

	"github.com/agentgate/agentgate/internal/rollback"
)

// Rollbacks is where the rollbacks page reads the error-rate watches
// after agent deploys and the rollbacks they, alerts and people started.
// Options.Rollbacks is nil when rollback is not configured.
type Rollbacks interface {
	// Watches lists the watches, live ones only when live is set, with
	// the agents named.
	Watches(ctx context.Context, live bool, limit int) ([]rollback.WatchStatus, error)
	// Rollbacks lists the rollbacks, newest first.
	Rollbacks(ctx context.Context, limit int) ([]rollback.Rollback, error)
}

// rollbacksShown bounds each table of the rollbacks page.
const rollbacksShown = 100

// rollbackList is /ui/rollbacks: the live watches (all=1: ended ones too)
// and the latest rollbacks.
func (c *Console) rollbackList(w http.ResponseWriter, r *http.Request, s session) {
	all := r.URL.Query().Get("all") == "1"
	data := struct {
		Off       bool
		All       bool
		Watches   []rollback.WatchStatus
		Rollbacks []rollback.Rollback
	}{Off: c.o.Rollbacks == nil, All: all}
	if !data.Off {
		var err error
		data.Watches, err = c.o.Rollbacks.Watches(r.Context(), !all, rollbacksShown)
		if err == nil {
			data.Rollbacks, err = c.o.Rollbacks.Rollbacks(r.Context(), rollbacksShown)
		}
		if err != nil {
			c.o.Logger.ErrorContext(r.Context(), "console: list rollbacks", "err", err)
			c.render(w, http.StatusServiceUnavailable, "error.html", pageData{Title: "Rollbacks", Person: &s, CSRF: s.CSRF,
				Message: "The watches and rollbacks could not be read; try again."})
			return
		}
	}
	c.render(w, http.StatusOK, "rollbacks.html", pageData{Title: "Rollbacks", Person: &s, CSRF: s.CSRF, Data: data})
}
