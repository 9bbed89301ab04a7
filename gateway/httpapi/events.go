package httpapi

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/zonegate/zonegate/gateway/api"
	"github.com/zonegate/zonegate/gateway/auth"
)

// hEvents answers GET /v1/events?since=SEQ&wait=DURATION.
func (s *server) hEvents(w http.ResponseWriter, r *http.Request, _ auth.Session) {
	q := r.URL.Query()
	var since uint64
	if v := q.Get("since"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			fail(w, fmt.Errorf("%w: since=%q is not a sequence number: pass the \"last\" of the previous answer", errBadRequest, v))
			return
		}
		since = n
	}
	var wait time.Duration
	if v := q.Get("wait"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			fail(w, fmt.Errorf("%w: wait=%q is not a duration such as 30s", errBadRequest, v))
			return
		}
		wait = min(d, api.MaxEventsWait)
	}
	res, err := s.b.Events(r.Context(), since, wait)
	if err != nil {
		fail(w, err)
		return
	}
	if res.Events == nil {
		res.Events = []api.Event{}
	}
	writeJSON(w, http.StatusOK, res)
}
