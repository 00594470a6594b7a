package app

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/agentgate/agentgate/internal/client"
)

// TestAuditStreamsReportProgress: a streamed verification reports
// progress against the head it started from and ends with the result, and
// an export says the head it counts up to.
func TestAuditStreamsReportProgress(t *testing.T) {
	forEachBackend(t, func(t *testing.T, h *harness) {
		h.provision(codingAgent("progress-bot"))
		for range 3 {
			h.decide(build("github:progress-bot[bot]"))
		}
		head := int64(h.auditCount())
		srv := httptest.NewServer(h.h)
		defer srv.Close()
		api, err := client.New(client.Options{BaseURL: srv.URL, Token: viewerToken})
		if err != nil {
			t.Fatal(err)
		}

		var reports [][2]int64
		v, err := api.VerifyAuditProgress(t.Context(), func(done, total int64) { reports = append(reports, [2]int64{done, total}) })
		if err != nil || !v.OK || v.Checked != head {
			t.Fatalf("verify = %+v, %v; want %d records intact", v, err, head)
		}
		if len(reports) == 0 || reports[0] != [2]int64{1, head} {
			t.Fatalf("progress reports %v, want the first as 1 of %d", reports, head)
		}

		reports = nil
		var out bytes.Buffer
		n, err := api.ExportAuditProgress(t.Context(), 1, &out, func(done, total int64) { reports = append(reports, [2]int64{done, total}) })
		if err != nil || n != head-1 {
			t.Fatalf("export = %d, %v; want %d records", n, err, head-1)
		}
		if len(reports) != int(head-1) || reports[len(reports)-1] != [2]int64{head - 1, head - 1} {
			t.Fatalf("progress reports %v, want 1..%d of %d", reports, head-1, head-1)
		}

		if code := h.call(http.MethodGet, "/api/v1/audit/verify?progress=often", viewerToken, nil, nil); code != http.StatusBadRequest {
			t.Fatalf("progress=often answered %d, want 400", code)
		}
	})
}
