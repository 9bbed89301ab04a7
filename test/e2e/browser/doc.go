// Package browser holds the web console's end-to-end tests in a real
// browser: Debian's chromium, driven over the DevTools protocol with
// chromedp, against zonegate serving the example factory in a namespace
// lab built by test/lab. It is a module of its own so that chromedp (whose
// go.mod needs Go 1.25) stays out of zonegate's go.mod (Go 1.24, for
// Buildroot) and out of the firmware binary.
package browser
