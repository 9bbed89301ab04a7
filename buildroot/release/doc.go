// Package release holds the end-to-end tests of zonegate's release
// targets, run against the checkout that contains this module: `make
// release` (three binaries, a CycloneDX SBOM for each, SHA256SUMS), `make
// reproducible` (two builds byte-identical for amd64, arm64 and armv7) and
// `make vulncheck` (govulncheck against a vulnerability database that the
// test writes). `make test` runs them (make release-test).
package release
