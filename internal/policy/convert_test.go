package policy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/agentgate/agentgate/internal/agents"
	"github.com/agentgate/agentgate/internal/event"
	"github.com/open-policy-agent/opa/v1/ast"
)

// filler sets every field of a value to random content, including the
// shapes encoding/json treats specially: nil versus empty slices and maps,
// nil pointers, invalid UTF-8, HTML characters, times with zones and
// nanoseconds.
type filler struct{ rnd *rand.Rand }

func (f filler) fill(v reflect.Value, depth int) {
	if v.Type() == reflect.TypeFor[time.Time]() {
		zone := time.FixedZone("z", (f.rnd.IntN(48)-24)*1800)
		t := time.Date(1900+f.rnd.IntN(300), time.Month(1+f.rnd.IntN(12)), 1+f.rnd.IntN(28),
			f.rnd.IntN(24), f.rnd.IntN(60), f.rnd.IntN(60), f.rnd.IntN(3)*f.rnd.IntN(1e9), zone)
		v.Set(reflect.ValueOf(t))
		return
	}
	switch v.Kind() {
	case reflect.String:
		strs := []string{"", "a", "github:octo-bot[bot]", "préview-ü", "\xff\xfe", "a\x00b", "<&>", "review/*", "\u2028", "ok\xc3"}
		v.SetString(strs[f.rnd.IntN(len(strs))])
	case reflect.Bool:
		v.SetBool(f.rnd.IntN(2) == 0)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt([]int64{0, 1, -7, 1 << 40}[f.rnd.IntN(4)])
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(uint64(f.rnd.IntN(100)))
	case reflect.Float32, reflect.Float64:
		v.SetFloat([]float64{0, 0.1, 12.5, 1e21, -3}[f.rnd.IntN(5)])
	case reflect.Pointer:
		if depth > 4 || f.rnd.IntN(3) == 0 {
			v.SetZero()
			return
		}
		p := reflect.New(v.Type().Elem())
		f.fill(p.Elem(), depth+1)
		v.Set(p)
	case reflect.Slice:
		switch n := f.rnd.IntN(4); n {
		case 0:
			v.SetZero()
		default:
			s := reflect.MakeSlice(v.Type(), n-1, n-1)
			for i := range n - 1 {
				f.fill(s.Index(i), depth+1)
			}
			v.Set(s)
		}
	case reflect.Map:
		switch n := f.rnd.IntN(4); n {
		case 0:
			v.SetZero()
		default:
			m := reflect.MakeMap(v.Type())
			for range n - 1 {
				k := reflect.New(v.Type().Key()).Elem()
				f.fill(k, depth+1)
				e := reflect.New(v.Type().Elem()).Elem()
				f.fill(e, depth+1)
				m.SetMapIndex(k, e)
			}
			v.Set(m)
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				f.fill(v.Field(i), depth+1)
			}
		}
	}
}

func TestInputEncoderMatchesJSON(t *testing.T) {
	encode := newInputEncoder()
	check := func(t *testing.T, in *Input) {
		t.Helper()
		want, err := inputValueJSON(in)
		if err != nil {
			t.Fatalf("JSON: %v", err)
		}
		got, err := encode(in)
		if err != nil {
			t.Fatalf("encoder: %v", err)
		}
		if got.Compare(want) != 0 {
			b, _ := json.Marshal(in)
			t.Fatalf("encoder and JSON differ for %s:\n got %v\nwant %v", b, got, want)
		}
	}
	t.Run("zero", func(t *testing.T) { check(t, &Input{}) })
	t.Run("fixture", func(t *testing.T) {
		expires := time.Date(2030, 1, 2, 3, 4, 5, 600, time.FixedZone("x", 3600))
		in := agentInput(testAgent(func(a *agents.Agent) { a.ExpiresAt = &expires; a.Labels = map[string]string{"team": "web"} }), testEvent())
		in.Event.Cost = &event.Cost{Minutes: 1.5, Amount: 0.02, Currency: "USD"}
		in.Usage = map[string]Usage{"builds_per_hour": {Used: 3, Limit: 20}}
		check(t, &in)
	})
	rnd := rand.New(rand.NewPCG(1, 2))
	for i := range 500 {
		t.Run(fmt.Sprintf("random-%d", i), func(t *testing.T) {
			var in Input
			filler{rnd}.fill(reflect.ValueOf(&in).Elem(), 0)
			check(t, &in)
		})
	}
}

func TestInputEncoderFallbacks(t *testing.T) {
	// Types the plan leaves to encoding/json still encode as it would.
	type embedded struct{ A int }
	type odd struct {
		embedded
		S  int               `json:"s,string"`
		Z  time.Time         `json:"z,omitzero"`
		F  float64           `json:"f"`
		I  any               `json:"i"`
		K  map[int]string    `json:"k"`
		B  []byte            `json:"b"`
		D  Duration          `json:"d"`
		A  [2]string         `json:"a"`
		P  *Duration         `json:"p"`
		M  map[string]*odd   `json:"m,omitempty"`
		T  *time.Time        `json:"t"`
		U  map[string]string `json:"-"`
		u  int
		NP *int `json:"np,omitempty"`
	}
	d := Duration(time.Minute)
	v := odd{embedded: embedded{A: 1}, S: 5, F: 0.5, I: []any{1, "x"}, K: map[int]string{1: "a"}, B: []byte("hi"),
		D: Duration(time.Hour), A: [2]string{"x", "y"}, P: &d, M: map[string]*odd{"n": nil}, u: 3}
	enc := planEncoder(reflect.TypeFor[odd](), map[reflect.Type]*astEncoder{})
	got, err := enc(reflect.ValueOf(&v).Elem())
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(&v)
	if err != nil {
		t.Fatal(err)
	}
	want, err := ast.ValueFromReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if got.Compare(want) != 0 {
		t.Errorf("got %v\nwant %v", got, want)
	}
}

func TestInputEncoderErrors(t *testing.T) {
	bad := time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
	in := Input{Agent: testAgent(func(a *agents.Agent) { a.ExpiresAt = &bad })}
	if _, err := newInputEncoder()(&in); err == nil {
		t.Error("a time after year 9999 encoded")
	}
	if _, err := json.Marshal(&in); err == nil {
		t.Error("encoding/json accepted it (the encoder should agree with it)")
	}
}

// decisionDoc builds a random decision document mixing well-formed and
// malformed parts.
func decisionDoc(rnd *rand.Rand) map[string]any {
	pick := func(xs ...any) any { return xs[rnd.IntN(len(xs))] }
	reason := func() any {
		return pick(
			map[string]any{"rule": "r", "message": "m", "enforcement": "warn"},
			map[string]any{"rule": "r", "message": "m"},
			map[string]any{"rule": "r", "message": "m", "enforcement": "dryrun"},
			map[string]any{"rule": "r", "message": "m", "enforcement": "sometimes"},
			map[string]any{"rule": "r", "message": json.Number("3")},
			map[string]any{"rule": "r", "Message": "m"},
			map[string]any{"rule": "r", "message": "m", "extra": true},
			map[string]any{"rule": nil, "message": "m"},
			"a plain string",
			json.Number("1"),
		)
	}
	list := func(f func() any) any {
		switch rnd.IntN(4) {
		case 0:
			return nil
		case 1:
			return []any{}
		case 2:
			return "not a list"
		}
		out := make([]any, 1+rnd.IntN(3))
		for i := range out {
			out[i] = f()
		}
		return out
	}
	duration := func() any {
		return pick("1h", "90s", "", "soon", json.Number("60"), json.Number("-1"), nil, "-5m")
	}
	number := func() any {
		return pick(json.Number("20"), json.Number("0"), json.Number("-1"), json.Number("2.5"), json.Number("1e3"),
			json.Number("99999999999999999999"), "20", nil)
	}
	quota := func() any {
		q := map[string]any{}
		for _, k := range []string{"name", "kind", "limit", "window", "cost", "key", "ttl", "Limit", "other"} {
			if rnd.IntN(2) == 0 {
				continue
			}
			switch k {
			case "name", "key":
				q[k] = pick("builds_per_hour", "", "x", json.Number("1"))
			case "kind":
				q[k] = pick("rate", "concurrency", "", "burst")
			case "limit", "cost", "Limit":
				q[k] = number()
			case "window", "ttl":
				q[k] = duration()
			default:
				q[k] = true
			}
		}
		return q
	}
	doc := map[string]any{"allow": true}
	if rnd.IntN(2) == 0 {
		doc["deny"] = list(reason)
	}
	if rnd.IntN(2) == 0 {
		doc["warnings"] = list(reason)
	}
	if rnd.IntN(2) == 0 {
		doc["quotas"] = list(quota)
	}
	if rnd.IntN(2) == 0 {
		doc["require_approval"] = pick(nil,
			map[string]any{"reason": "r", "approvers": []any{"role:admin"}, "ttl": duration()},
			map[string]any{"reason": "r", "approvers": []any{json.Number("1")}},
			map[string]any{"reason": "r", "approvers": nil, "ttl": "4h"},
			"approve me")
	}
	if rnd.IntN(2) == 0 {
		doc["enforcement"] = pick("enforce", "warn", "dryrun", "", "loud", nil)
	}
	if rnd.IntN(2) == 0 {
		doc["anomaly"] = pick(nil,
			map[string]any{"max_denials_per_minute": number()},
			map[string]any{"max_requests_per_minute": json.Number("60"), "max_denials_per_minute": json.Number("5")},
			map[string]any{"bogus": json.Number("1")})
	}
	if rnd.IntN(8) == 0 {
		doc["dryrun"] = []any{}
	}
	return doc
}

// TestFastDecisionMatchesJSON checks that the direct conversion of decision
// documents agrees with encoding/json and the contract types whenever it
// takes a document, and that decodeDecision as a whole agrees with the JSON
// path on every document.
func TestFastDecisionMatchesJSON(t *testing.T) {
	rnd := rand.New(rand.NewPCG(3, 4))
	fast := 0
	for i := range 5000 {
		v, err := ast.InterfaceToValue(decisionDoc(rnd))
		if err != nil {
			t.Fatal(err)
		}
		// A policy may produce any list as a set (a partial set rule).
		for _, k := range []string{"deny", "warnings", "quotas"} {
			t := v.(ast.Object).Get(ast.StringTerm(k))
			if t == nil {
				continue
			}
			if arr, ok := t.Value.(*ast.Array); ok && rnd.IntN(3) == 0 {
				v.(ast.Object).Insert(ast.StringTerm(k), ast.NewTerm(ast.NewSet(termsOf(arr)...)))
			}
		}
		doc, err := ast.JSON(v)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(doc)
		want, wantErr := jsonDecision(doc.(map[string]any))
		if d, ok := fastDecision(v.(ast.Object)); ok {
			fast++
			if wantErr != nil {
				t.Fatalf("case %d %s: fast path took a document JSON rejects: %v", i, b, wantErr)
			}
			if !reflect.DeepEqual(d, want) {
				t.Fatalf("case %d %s: fast %+v, JSON %+v", i, b, d, want)
			}
		}
		if wantErr == nil {
			wantErr = want.Normalize()
		}
		got, err := decodeDecision(v)
		if (err == nil) != (wantErr == nil) {
			t.Fatalf("case %d %s: decodeDecision err %v, JSON path err %v", i, b, err, wantErr)
		}
		if err == nil && !reflect.DeepEqual(got, want) {
			t.Fatalf("case %d %s: decodeDecision %+v, JSON path %+v", i, b, got, want)
		}
	}
	if fast < 100 {
		t.Errorf("only %d documents took the fast path", fast)
	}
}

func termsOf(arr *ast.Array) []*ast.Term {
	out := make([]*ast.Term, arr.Len())
	for i := range out {
		out[i] = arr.Elem(i)
	}
	return out
}
