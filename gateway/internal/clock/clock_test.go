package clock

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var start = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

func TestFakeTimers(t *testing.T) {
	c := NewFake(start)
	var ran []string
	c.AfterFunc(2*time.Minute, func() { ran = append(ran, "2m") })
	c.AfterFunc(time.Minute, func() {
		ran = append(ran, "1m")
		assert.Equal(t, start.Add(time.Minute), c.Now(), "a timer runs at its deadline")
	})
	stopped := c.AfterFunc(90*time.Second, func() { ran = append(ran, "90s") })
	require.True(t, stopped.Stop())
	assert.False(t, stopped.Stop(), "a second Stop reports that nothing was pending")
	assert.Equal(t, 2, c.Pending())

	c.Advance(59 * time.Second)
	assert.Empty(t, ran)
	c.Advance(2 * time.Minute)
	assert.Equal(t, []string{"1m", "2m"}, ran)
	assert.Equal(t, start.Add(179*time.Second), c.Now())
	assert.Zero(t, c.Pending())
}

func TestFakeTimerScheduledFromTimer(t *testing.T) {
	c := NewFake(start)
	n := 0
	var again func()
	again = func() {
		n++
		if n < 3 {
			c.AfterFunc(time.Second, again)
		}
	}
	c.AfterFunc(time.Second, again)
	c.Advance(10 * time.Second)
	assert.Equal(t, 3, n)
}

func TestFakeTicker(t *testing.T) {
	c := NewFake(start)
	tk := c.NewTicker(time.Second)
	c.Advance(500 * time.Millisecond)
	select {
	case <-tk.C():
		t.Fatal("ticked early")
	default:
	}
	c.Advance(3 * time.Second) // three ticks due, one buffered
	assert.Equal(t, start.Add(time.Second), <-tk.C(), "the first tick due stays; later ones are dropped")
	select {
	case <-tk.C():
		t.Fatal("more than one buffered tick")
	default:
	}
	tk.Stop()
	c.Advance(5 * time.Second)
	select {
	case <-tk.C():
		t.Fatal("a stopped ticker ticked")
	default:
	}
	assert.Panics(t, func() { c.NewTicker(0) })
}

func TestReal(t *testing.T) {
	c := Real()
	assert.False(t, c.Now().IsZero())
	done := make(chan struct{})
	c.AfterFunc(0, func() { close(done) })
	<-done
	tm := c.AfterFunc(time.Hour, func() {})
	assert.True(t, tm.Stop())
	tk := c.NewTicker(time.Millisecond)
	<-tk.C()
	tk.Stop()
}
