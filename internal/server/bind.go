package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/agentgate/agentgate/internal/apperr"
)

// decodeJSON strictly decodes the request body into v: unknown fields,
// trailing data and type mismatches are 400s that say what is wrong.
func decodeJSON(c *gin.Context, v any) error {
	body, err := io.ReadAll(c.Request.Body)
	if err != nil {
		return apperr.FromBodyRead(err)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var typ *json.UnmarshalTypeError
		switch {
		case errors.Is(err, io.EOF):
			return apperr.Invalid("request body is empty; expected a JSON object")
		case errors.As(err, &typ):
			return apperr.Invalid("field %q must be %s, not %s", typ.Field, typ.Type, typ.Value)
		}
		return apperr.Invalid("invalid JSON: %v", err)
	}
	if dec.More() {
		return apperr.Invalid("invalid JSON: unexpected data after the object")
	}
	return nil
}

// optionalJSON decodes a body that may be empty.
func optionalJSON(c *gin.Context, v any) error {
	if c.Request.ContentLength == 0 {
		return nil
	}
	return decodeJSON(c, v)
}

func itoaErr(name, v string) error {
	return apperr.Invalid("query parameter %s=%q is not valid", name, fmt.Sprint(v))
}

// intParam reads an optional positive integer query parameter of at most
// max; def when absent.
func intParam(c *gin.Context, name string, def, max int) (int, error) {
	v := c.Query(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > max {
		return 0, apperr.Invalid("query parameter %s=%q must be a whole number from 1 to %d", name, v, max)
	}
	return n, nil
}
