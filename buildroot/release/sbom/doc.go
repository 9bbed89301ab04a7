// Package sbom makes and checks the CycloneDX SBOMs of zonegate's release
// binaries (`make sbom`).
//
// The SBOM of a binary is written by the pinned generator
// github.com/CycloneDX/cyclonedx-gomod (its "bin" mode reads the module list
// that the Go toolchain recorded in the binary, the list `go version -m`
// prints), run as a tool of this module and never linked into zonegate.
// This package then completes what the generator leaves out for a binary
// built from a local checkout (the licence of zonegate itself and of the Go
// standard library), and checks the result: the CycloneDX 1.6 JSON schema
// (kept in schema/), and every module of the binary with its version,
// go.sum hash, licence and package URL, the Go toolchain and the binary's
// own SHA-256.
package sbom
