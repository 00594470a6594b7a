package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

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
