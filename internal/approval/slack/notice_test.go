package slack

import (
	"context"
	"strings"
	"testing"
	"time"
)

func TestAnnounce(t *testing.T) {
	tests := []struct {
		name        string
		notice      Notice
		wantChannel string
		wantDM      bool
	}{
		{name: "production channel and the owner's DM", notice: Notice{Environment: "production", Owner: "U0OWNER", Text: "Rolled back <acme/api> to abc"}, wantChannel: prodChannel, wantDM: true},
		{name: "a team owner gets no DM", notice: Notice{Environment: "staging", Owner: "platform-team", Text: "Rolled back"}, wantChannel: "C0DEFAULT"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, nil)
			e.n.Announce(context.Background(), tc.notice)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := e.n.Shutdown(ctx); err != nil {
				t.Fatal(err)
			}
			posts := e.slack.called("chat.postMessage")
			if len(posts) == 0 || posts[0].Form.Get("channel") != tc.wantChannel {
				t.Fatalf("posts = %+v", posts)
			}
			if strings.Contains(posts[0].Form.Get("text"), "<acme/api>") {
				t.Fatal("the notice text was not escaped")
			}
			dms := e.slack.called("conversations.open")
			if (len(dms) == 1) != tc.wantDM || (tc.wantDM && len(posts) != 2) {
				t.Fatalf("conversations.open %d, posts %d", len(dms), len(posts))
			}
		})
	}
}
