package gate

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/agentgate/agentgate/internal/apperr"
)

// TestAdmissionSlotGivenAsTheWaitEnds: a waiting decision whose request
// ends just as a slot is handed to it gives the slot back: it is not
// leaked, and the decision is refused as one whose wait ended.
func TestAdmissionSlotGivenAsTheWaitEnds(t *testing.T) {
	a := newAdmission(1, 4, nil)
	if _, err := a.enter(context.Background(), "github:bot0[bot]"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		release, err := a.enter(ctx, "github:bot1[bot]")
		if err == nil {
			release()
		}
		done <- err
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		a.mu.Lock()
		if a.queued == 1 {
			break // a.mu stays held
		}
		a.mu.Unlock()
		if time.Now().After(deadline) {
			t.Fatal("the second decision never waited")
		}
		time.Sleep(time.Millisecond)
	}
	// The request ends; the waiting decision sees it and then waits for
	// a.mu, under which the first decision's slot is handed to it, as
	// leave does.
	cancel()
	time.Sleep(50 * time.Millisecond)
	w := a.pop()
	if w == nil {
		t.Fatal("nothing waited")
	}
	w.ready <- nil
	a.mu.Unlock()
	err := <-done
	if err != nil && apperr.KindOf(err) != apperr.KindCanceled {
		t.Fatalf("the second decision: %v", err)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.inFlight != 0 || a.queued != 0 || a.lines.Len() != 0 || len(a.byName) != 0 {
		t.Fatalf("after both decisions: %d in flight, %d queued, %d lines, %d named", a.inFlight, a.queued, a.lines.Len(), len(a.byName))
	}
}

// TestAdmissionLinesOfPrincipals: a principal's line is its agent's once
// identified, its own again once identified as no agent, whatever its
// spelling; what the admission remembers stays bounded.
func TestAdmissionLinesOfPrincipals(t *testing.T) {
	a := newAdmission(1, 4, nil)
	steps := []struct {
		name    string
		learn   func()
		spelled string
		want    string
	}{
		{name: "not yet identified", learn: func() {}, spelled: "github:Bot1[bot]", want: "principal github:bot1[bot]"},
		{name: "identified as an agent", learn: func() { a.learn("github:bot1[bot]", "ag-1") }, spelled: "GITHUB:BOT1[BOT]", want: "agent ag-1"},
		{name: "moved to another agent", learn: func() { a.learn("github:bot1[bot]", "ag-2") }, spelled: "github:bot1[bot]", want: "agent ag-2"},
		{name: "identified as no agent", learn: func() { a.learn("github:bot1[bot]", "") }, spelled: "github:bot1[bot]", want: "principal github:bot1[bot]"},
	}
	for _, st := range steps {
		st.learn()
		if got := a.lineOf(st.spelled); got != st.want {
			t.Fatalf("%s: line %q, want %q", st.name, got, st.want)
		}
	}
	for i := range maxKnownPrincipals + 10 {
		a.learn("github:bot"+strconv.Itoa(i)+"[bot]", "ag")
	}
	if n := len(a.agentOf); n > maxKnownPrincipals {
		t.Fatalf("%d principals remembered, more than %d", n, maxKnownPrincipals)
	}
}
