// Command zonegate-sbom writes the CycloneDX SBOM of each zonegate binary
// it is given, next to it as BINARY.cdx.json (`make sbom` runs it on the
// three release binaries). Each SBOM is checked before it is written: the
// CycloneDX schema, and the binary's modules, hashes, licences, package
// URLs, Go toolchain and SHA-256 (package tools/sbom).
//
//	zonegate-sbom -version VERSION -repo DIR BINARY...
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/zonegate/zonegate/tools/sbom"
)

func main() {
	g := sbom.Generator{Go: "go"}
	flag.StringVar(&g.Version, "version", "", "zonegate's version, the version of the SBOM's main component (make: VERSION)")
	flag.StringVar(&g.RepoDir, "repo", "..", "zonegate's checkout, for the licence of zonegate itself")
	flag.StringVar(&g.Go, "go", g.Go, "the go tool")
	verbose := flag.Bool("v", false, "show cyclonedx-gomod's messages")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: zonegate-sbom -version VERSION [-repo DIR] BINARY...\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if g.Version == "" || flag.NArg() == 0 {
		flag.Usage()
		os.Exit(2)
	}
	wd, err := os.Getwd()
	if err != nil {
		fail(err)
	}
	g.ToolsDir = wd
	if *verbose {
		g.Log = os.Stderr
	}
	for _, bin := range flag.Args() {
		out := bin + ".cdx.json"
		if err := g.Write(bin, out); err != nil {
			fail(err)
		}
		fmt.Printf("sbom %s (CycloneDX %s, checked against %s)\n", out, sbom.SpecVersion, filepath.Base(bin))
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "zonegate-sbom:", err)
	os.Exit(1)
}
