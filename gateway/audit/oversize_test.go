package audit

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// parseTruncated reads a DetailTruncated value into name -> original length.
func parseTruncated(t *testing.T, s string) map[string]int {
	t.Helper()
	out := map[string]int{}
	if s == "" {
		return out
	}
	for _, item := range strings.Split(s, ",") {
		i := strings.LastIndexByte(item, ':')
		require.Positive(t, i, "item %q", item)
		n, err := strconv.Atoi(item[i+1:])
		require.NoError(t, err)
		out[item[:i]] = n
	}
	return out
}

func TestOversizedDataRecordKeepsWhatFits(t *testing.T) {
	o := testOptions(t)
	l := openLog(t, o)
	r := dataRecord(1)
	r.Object = strings.Repeat("o", 300)
	for i := 0; i < 20; i++ {
		r.Details["reg_"+strconv.Itoa(i)] = strings.Repeat(strconv.Itoa(i%10), 500)
	}
	r.Details["long_note"] = strings.Repeat("n", 2000)
	r.Details["Bad-Key"] = "x"
	require.True(t, l.Enqueue(r))
	require.NoError(t, l.Flush(context.Background()))
	mustClose(t, l)

	es := readAll(t, o.Dir, Filter{Category: CategoryInspection})
	require.Len(t, es, 1)
	e := es[0]
	// The small details are kept whole.
	for _, k := range []string{DetailSource, DetailDestination, DetailConduit, DetailUnit, DetailFunction, DetailAddresses, DetailValues} {
		assert.Equal(t, r.Details[k], e.Details[k], k)
	}
	assert.Equal(t, "1", e.Details[DetailDroppedDetails], "the invalid key is counted")
	cuts := parseTruncated(t, e.Details[DetailTruncated])
	assert.Equal(t, 300, cuts["@object"])
	assert.Len(t, e.Object, maxFieldBytes)
	assert.Equal(t, 2000, cuts["long_note"], "the original length, not the 512 of the first cut")
	for i := 0; i < 20; i++ {
		k := "reg_" + strconv.Itoa(i)
		v, ok := e.Details[k]
		require.True(t, ok, "detail %s was dropped", k)
		assert.Equal(t, 500, cuts[k], k)
		assert.NotEmpty(t, v, "%s: something of each value is kept", k)
		assert.True(t, strings.HasPrefix(r.Details[k], v), "%s: a prefix of the value is kept", k)
	}
	requireIntact(t, o.Dir)
}

func TestDataRecordWithinLimitsIsNotNoted(t *testing.T) {
	r := sanitize(dataRecord(1))
	assert.NotContains(t, r.Details, DetailTruncated)
	assert.NotContains(t, r.Details, DetailDroppedDetails)
	fitData(&r, func(*Record) int { return 100 })
	assert.NotContains(t, r.Details, DetailTruncated)
}

func TestFitDataEscapedValues(t *testing.T) {
	// Control characters take six bytes each in JSON: the cut must still fit.
	r := sanitize(Record{Category: CategoryInspection, Action: "x", Details: map[string]string{}})
	for i := 0; i < 30; i++ {
		r.Details["k"+strconv.Itoa(i)] = strings.Repeat("\x01", 500)
	}
	var buf []byte
	size := func(r *Record) int { buf, _ = appendPayload(buf[:0], r, "boot", "gw", nil); return len(buf) }
	require.Greater(t, size(&r), MaxPayloadBytes)
	fitData(&r, size)
	assert.LessOrEqual(t, size(&r), MaxPayloadBytes)
	assert.Len(t, parseTruncated(t, r.Details[DetailTruncated]), 30)
}
