package policy

import (
	"encoding"
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/util"
)

// astEncoder converts a Go value to the AST value of its JSON encoding: the
// value a policy would see after json.Marshal and parsing, without writing
// and parsing JSON text. The encoder for a type is planned once from its
// reflect.Type; kinds the plan does not handle natively (embedded structs,
// ",string" fields, custom marshalers other than time.Time, arrays,
// omitzero, interfaces, non-string map keys) go through encoding/json, so the result is
// always what encoding/json would produce.
type astEncoder func(v reflect.Value) (ast.Value, error)

// newInputEncoder returns the encoder for *Input.
func newInputEncoder() func(*Input) (ast.Value, error) {
	enc := planEncoder(reflect.TypeFor[Input](), map[reflect.Type]*astEncoder{})
	return func(in *Input) (ast.Value, error) {
		return enc(reflect.ValueOf(in).Elem())
	}
}

// planEncoder builds the encoder for t. plans holds the encoders being built,
// so recursive types refer to themselves instead of recursing forever.
func planEncoder(t reflect.Type, plans map[reflect.Type]*astEncoder) astEncoder {
	if p, ok := plans[t]; ok {
		return func(v reflect.Value) (ast.Value, error) { return (*p)(v) }
	}
	p := new(astEncoder)
	plans[t] = p
	*p = buildEncoder(t, plans)
	return *p
}

func buildEncoder(t reflect.Type, plans map[reflect.Type]*astEncoder) astEncoder {
	if t == reflect.TypeFor[time.Time]() {
		return encodeTime
	}
	if t.Kind() == reflect.Pointer {
		// A nil pointer is null, marshaler or not; a set one is its element
		// (whose plan handles marshalers, pointer receivers included).
		elem := planEncoder(t.Elem(), plans)
		return func(v reflect.Value) (ast.Value, error) {
			if v.IsNil() {
				return ast.NullValue, nil
			}
			return elem(v.Elem())
		}
	}
	if hasMarshaler(t) || hasMarshaler(reflect.PointerTo(t)) {
		return encodeViaJSON
	}
	switch t.Kind() {
	case reflect.Bool:
		return func(v reflect.Value) (ast.Value, error) { return ast.Boolean(v.Bool()), nil }
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return func(v reflect.Value) (ast.Value, error) { return ast.Number(strconv.FormatInt(v.Int(), 10)), nil }
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return func(v reflect.Value) (ast.Value, error) { return ast.Number(strconv.FormatUint(v.Uint(), 10)), nil }
	case reflect.String:
		return func(v reflect.Value) (ast.Value, error) { return ast.String(jsonString(v.String())), nil }
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return encodeViaJSON
		}
		return sliceEncoder(planEncoder(t.Elem(), plans))
	case reflect.Map:
		if t.Key().Kind() != reflect.String || hasMarshaler(t.Key()) {
			return encodeViaJSON
		}
		return mapEncoder(planEncoder(t.Elem(), plans))
	case reflect.Struct:
		return structEncoder(t, plans)
	}
	// Floats (encoding/json has its own formatting), interfaces, arrays, ...
	return encodeViaJSON
}

func sliceEncoder(elem astEncoder) astEncoder {
	return func(v reflect.Value) (ast.Value, error) {
		if v.IsNil() {
			return ast.NullValue, nil
		}
		terms := make([]*ast.Term, v.Len())
		for i := range terms {
			x, err := elem(v.Index(i))
			if err != nil {
				return nil, err
			}
			terms[i] = ast.NewTerm(x)
		}
		return ast.NewArray(terms...), nil
	}
}

func mapEncoder(elem astEncoder) astEncoder {
	return func(v reflect.Value) (ast.Value, error) {
		if v.IsNil() {
			return ast.NullValue, nil
		}
		pairs := make([][2]*ast.Term, 0, v.Len())
		it := v.MapRange()
		for it.Next() {
			x, err := elem(it.Value())
			if err != nil {
				return nil, err
			}
			pairs = append(pairs, [2]*ast.Term{ast.StringTerm(jsonString(it.Key().String())), ast.NewTerm(x)})
		}
		return ast.NewObject(pairs...), nil
	}
}

// fieldPlan is how one struct field is written.
type fieldPlan struct {
	index     int
	key       *ast.Term
	omitEmpty bool
	enc       astEncoder
}

func structEncoder(t reflect.Type, plans map[reflect.Type]*astEncoder) astEncoder {
	var fields []fieldPlan
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if f.Anonymous {
			// encoding/json promotes embedded fields; leave that to it.
			return encodeViaJSON
		}
		if !f.IsExported() || tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if name == "" {
			name = f.Name
		}
		fp := fieldPlan{index: i, key: ast.StringTerm(name), enc: planEncoder(f.Type, plans)}
		for opt := range strings.SplitSeq(opts, ",") {
			switch opt {
			case "omitempty":
				fp.omitEmpty = true
			case "omitzero", "string":
				return encodeViaJSON
			}
		}
		fields = append(fields, fp)
	}
	return func(v reflect.Value) (ast.Value, error) {
		pairs := make([][2]*ast.Term, 0, len(fields))
		for _, fp := range fields {
			fv := v.Field(fp.index)
			if fp.omitEmpty && isEmptyValue(fv) {
				continue
			}
			x, err := fp.enc(fv)
			if err != nil {
				return nil, err
			}
			pairs = append(pairs, [2]*ast.Term{fp.key, ast.NewTerm(x)})
		}
		return ast.NewObject(pairs...), nil
	}
}

// isEmptyValue is encoding/json's omitempty test.
func isEmptyValue(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Array, reflect.Map, reflect.Slice, reflect.String:
		return v.Len() == 0
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Interface, reflect.Pointer:
		return v.IsZero()
	}
	return false
}

// hasMarshaler reports whether t writes itself (json.Marshaler or
// encoding.TextMarshaler).
func hasMarshaler(t reflect.Type) bool {
	return t.Implements(reflect.TypeFor[json.Marshaler]()) || t.Implements(reflect.TypeFor[encoding.TextMarshaler]())
}

// encodeTime writes a time as time.Time.MarshalJSON does.
func encodeTime(v reflect.Value) (ast.Value, error) {
	t := v.Interface().(time.Time)
	if y := t.Year(); y < 0 || y >= 10000 {
		return nil, fmt.Errorf("time %v: year outside of range [0,9999]", t)
	}
	return ast.String(t.Format(time.RFC3339Nano)), nil
}

// encodeViaJSON writes v with encoding/json and parses the result.
func encodeViaJSON(v reflect.Value) (ast.Value, error) {
	var x any
	if v.CanAddr() {
		x = v.Addr().Interface()
	} else {
		x = v.Interface()
	}
	b, err := json.Marshal(x)
	if err != nil {
		return nil, err
	}
	var doc any
	if err := util.UnmarshalJSON(b, &doc); err != nil {
		return nil, err
	}
	return ast.InterfaceToValue(doc)
}

// jsonString returns s as encoding/json writes it: each byte of invalid
// UTF-8 becomes U+FFFD.
func jsonString(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b.WriteRune(utf8.RuneError)
		} else {
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}
