package console

import (
	"errors"
	"slices"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/zonegate/zonegate/gateway/audit"
)

// The audit log page: records newest first, a page at a time, filtered by
// category and actor, with the result of a verification of the whole log
// and its last signed checkpoint.

// auditPageSize is how many records one page shows.
const auditPageSize = 50

// auditCategories are the categories the filter offers.
var auditCategories = []audit.Category{audit.CategoryAccount, audit.CategoryConfig, audit.CategoryService, audit.CategoryAudit,
	audit.CategoryInspection, audit.CategoryNetwork, audit.CategoryModbus}

type auditBody struct {
	Unavailable bool
	Category    string
	Actor       string
	Categories  []audit.Category
	Rows        []auditRow
	Older       uint64 // "before" of the next page; 0: none
	ReadErr     string
	Verify      verifyView
}

type auditRow struct {
	audit.Entry
	Details string
}

type verifyView struct {
	Report     *audit.Report
	Err        string
	At         time.Time
	Checkpoint *audit.Entry // the newest checkpoint record
}

// errStop ends a walk through the log early.
var errStop = errors.New("stop")

// auditPage reads the page of records older than before (0: the newest)
// that match the category and actor. It reads windows of the log that
// end at before and grow until they hold a page or reach the start, so
// the newest pages read only the newest segment.
func auditPage(log AuditLog, category audit.Category, actor string, before, newest uint64) (rows []audit.Entry, older uint64, err error) {
	if before == 0 || before > newest+1 {
		before = newest + 1
	}
	for window := uint64(4 * auditPageSize); ; window *= 4 {
		from := uint64(1)
		if before > window {
			from = before - window
		}
		var found []audit.Entry
		err := log.Read(audit.Filter{Category: category, FromSeq: from}, func(e audit.Entry) error {
			if e.Seq >= before {
				return errStop
			}
			if actor == "" || e.Actor == actor {
				found = append(found, e)
			}
			return nil
		})
		if err != nil && !errors.Is(err, errStop) && !errors.Is(err, audit.ErrDamaged) {
			return nil, 0, err
		}
		if len(found) >= auditPageSize || from == 1 {
			// Older records may match: the window did not reach the
			// start, or held more than a page.
			more := from > 1 || len(found) > auditPageSize
			if len(found) > auditPageSize {
				found = found[len(found)-auditPageSize:]
			}
			if more && len(found) > 0 {
				older = found[0].Seq
			}
			slices.Reverse(found)
			if errors.Is(err, errStop) {
				err = nil
			}
			return found, older, err
		}
	}
}

// detailsText writes a record's details as sorted key=value pairs; the
// checkpoints' signatures are left out (long, and Verify checks them).
func detailsText(d map[string]string) string {
	keys := make([]string, 0, len(d))
	for k := range d {
		if k != "signature" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	s := ""
	for i, k := range keys {
		if i > 0 {
			s += "  "
		}
		s += k + "=" + strconv.Quote(d[k])
	}
	return s
}

// verifyCache keeps the last verification for verifyAge, so that paging
// through the log does not verify it every time.
type verifyCache struct {
	mu  sync.Mutex
	at  time.Time
	rep *audit.Report
	err error
}

const verifyAge = 30 * time.Second

// verified verifies the log, or returns the verification of the last
// verifyAge.
func (c *Console) verified() (*audit.Report, error, time.Time) {
	v := &c.verify
	v.mu.Lock()
	defer v.mu.Unlock()
	now := c.now()
	if v.at.IsZero() || now.Sub(v.at) >= verifyAge || now.Before(v.at) {
		v.rep, v.err = c.cfg.Audit.Verify()
		v.at = now
	}
	return v.rep, v.err, v.at
}

// lastCheckpoint is the newest checkpoint record at or after seq.
func lastCheckpoint(log AuditLog, seq uint64) *audit.Entry {
	var cp *audit.Entry
	_ = log.Read(audit.Filter{Action: audit.ActionCheckpoint, FromSeq: seq}, func(e audit.Entry) error {
		cp = &e
		return nil
	})
	return cp
}

func (c *Console) auditLog(rq *request) error {
	b := auditBody{Categories: auditCategories}
	if c.cfg.Audit == nil {
		b.Unavailable = true
		return c.page(rq, "audit", "Audit log", b)
	}
	q := rq.r.URL.Query()
	b.Category, b.Actor = q.Get("category"), q.Get("actor")
	if b.Category != "" && !slices.Contains(auditCategories, audit.Category(b.Category)) {
		b.Category = ""
	}
	before, _ := strconv.ParseUint(q.Get("before"), 10, 64)
	var newest uint64
	if st, err := c.cfg.Status(); err == nil && st.Audit != nil {
		newest = st.Audit.Seq
	}
	rep, err, at := c.verified()
	b.Verify = verifyView{Report: rep, At: at}
	if err != nil {
		b.Verify.Err = err.Error()
	}
	if newest == 0 && rep != nil {
		newest = rep.LastSeq
	}
	rows, older, err := auditPage(c.cfg.Audit, audit.Category(b.Category), b.Actor, before, newest)
	if err != nil {
		b.ReadErr = err.Error()
	}
	b.Older = older
	for _, e := range rows {
		b.Rows = append(b.Rows, auditRow{Entry: e, Details: detailsText(e.Details)})
	}
	if rep != nil && rep.SignedThrough > 0 {
		b.Verify.Checkpoint = lastCheckpoint(c.cfg.Audit, rep.SignedThrough)
	}
	return c.page(rq, "audit", "Audit log", b)
}
