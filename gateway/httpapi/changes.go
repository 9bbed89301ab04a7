package httpapi

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/zonegate/zonegate/gateway/api"
	"github.com/zonegate/zonegate/gateway/changes"
)

// changeError gives the change transactions' own errors their API status
// and body: a rejected model its diagnostics (422), a change that waits or
// is missing 409, no running model 404. Other errors pass unchanged.
func changeError(err error) error {
	var me *changes.ModelError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &me):
		e := &api.Error{Status: http.StatusUnprocessableEntity,
			Message: fmt.Sprintf("the model has %d error(s); nothing was changed", len(me.Diagnostics))}
		for _, diag := range me.Diagnostics {
			e.Diagnostics = append(e.Diagnostics, diag.String())
		}
		return e
	case errors.Is(err, changes.ErrPending), errors.Is(err, changes.ErrNothingPending), errors.Is(err, changes.ErrNoPrevious):
		return &api.Error{Status: http.StatusConflict, Message: err.Error()}
	case errors.Is(err, changes.ErrNoModel):
		return &api.Error{Status: http.StatusNotFound, Message: err.Error()}
	}
	return err
}
