package storetest

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/agentgate/agentgate/internal/store"
)

// crashChild marks the test binary running as CrashMidBatch's child.
const crashChild = "AGENTGATE_CRASH_CHILD"

// midBatch is how many calls share the transaction the child is killed in.
const midBatch = 8

// Crash says how a backend's test reaches one database from two processes.
type Crash struct {
	// Env locates the database; the parent passes it to the child.
	Env map[string]string
	// Open opens the store that env locates (and closes it when the test
	// ends).
	Open func(t testing.TB, env map[string]string) store.Store
}

// CrashMidBatch kills a process with SIGKILL while a shared transaction
// (group commit) of several decisions is in flight, then reopens the
// database: every call that was answered is there, the batch in flight
// left nothing, and the audit chain verifies. The test re-runs its own
// binary as the child; the backend's test calls CrashMidBatch from a test
// function named by run.
func CrashMidBatch(t *testing.T, run string, c Crash) {
	if os.Getenv(crashChild) != "" {
		crashChildMain(t, c)
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^"+run+"$", "-test.v")
	cmd.Env = append(os.Environ(), crashChild+"=1")
	for k, v := range c.Env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	acked := map[string]bool{}
	inFlight := false
	lines := bufio.NewScanner(stdout)
	deadline := time.AfterFunc(60*time.Second, func() { _ = cmd.Process.Kill() })
	defer deadline.Stop()
	for lines.Scan() {
		f := strings.Fields(lines.Text())
		switch {
		case len(f) == 2 && f[0] == "ack":
			acked[f[1]] = true
		case len(f) == 1 && f[0] == "inbatch":
			inFlight = true
			_ = cmd.Process.Signal(syscall.SIGKILL)
		}
		if inFlight {
			break
		}
	}
	_ = cmd.Wait()
	if !inFlight {
		t.Fatalf("the child never reached the batch to be killed in\n%s", stderr.String())
	}

	st := c.Open(t, c.Env)
	for id := range acked {
		if !claimed(t, st, id) {
			t.Errorf("decision %s was answered, then lost in the crash", id)
		}
	}
	for j := range midBatch {
		id := fmt.Sprintf("mid-%d", j)
		if acked[id] {
			t.Fatalf("%s was answered before the crash: the calls did not share the killed transaction", id)
		}
		if claimed(t, st, id) {
			t.Errorf("%s, in the transaction that was killed, was recorded", id)
		}
	}
	chainHolds(t, st, len(acked))
	// The store works after the crash: the chain continues.
	must(t, st.InSharedTx(t.Context(), func(ctx context.Context, q store.Queries) error { return sharedDecision(ctx, q, "after") }))
	chainHolds(t, st, len(acked)+1)
}

// crashChildMain is the child: ten answered decisions, one that holds the
// committer while midBatch more queue up, then a batch of those that blocks
// in its last call, when the parent kills the process.
func crashChildMain(t *testing.T, c Crash) {
	st := c.Open(t, c.Env)
	ack := func(id string) { fmt.Fprintf(os.Stdout, "ack %s\n", id) }
	for i := range 10 {
		id := fmt.Sprintf("ack-%d", i)
		must(t, st.InSharedTx(t.Context(), func(ctx context.Context, q store.Queries) error { return sharedDecision(ctx, q, id) }))
		ack(id)
	}
	holding, release, holderAcked := make(chan struct{}), make(chan struct{}), make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		must(t, st.InSharedTx(t.Context(), func(ctx context.Context, q store.Queries) error {
			close(holding)
			<-release
			return sharedDecision(ctx, q, "holder")
		}))
		ack("holder")
		close(holderAcked)
	}()
	<-holding
	var ran atomic.Int32
	for j := range midBatch {
		go func() {
			id := fmt.Sprintf("mid-%d", j)
			err := st.InSharedTx(t.Context(), func(ctx context.Context, q store.Queries) error {
				if err := sharedDecision(ctx, q, id); err != nil {
					return err
				}
				if ran.Add(1) == midBatch {
					<-holderAcked // every answered call is announced first
					fmt.Fprintln(os.Stdout, "inbatch")
					select {} // killed here, the batch's transaction open
				}
				return nil
			})
			if err == nil {
				ack(id)
			}
		}()
	}
	time.Sleep(300 * time.Millisecond) // let every call queue behind the holder
	close(release)
	wg.Wait()
	select {} // wait to be killed
}
