// Command zonegate-sbom writes, reads and merges the CycloneDX SBOMs of
// zonegate's binaries (package buildroot/release/sbom).
//
//	zonegate-sbom -version VERSION [-repo DIR] BINARY...
//	    write BINARY.cdx.json for each binary (`make sbom`), checked
//	    against the CycloneDX schema and the binary before it is written
//	zonegate-sbom modules SBOM
//	    print zonegate and each module of an SBOM: path, version, licences
//	    (buildroot/scripts/check.sh compares them with the package)
//	zonegate-sbom merge -image IMAGE.cdx.json [-ref zonegate] [-url URL] -o OUT SBOM
//	    put zonegate's Go modules into an image SBOM (Buildroot's
//	    utils/generate-cyclonedx) under the zonegate package
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"strings"

	cdx "github.com/CycloneDX/cyclonedx-go"

	"github.com/zonegate/zonegate/buildroot/release/sbom"
)

func main() {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "modules":
			modules(os.Args[2:])
			return
		case "merge":
			merge(os.Args[2:])
			return
		}
	}
	generate()
}

func generate() {
	g := sbom.Generator{Go: "go"}
	flag.StringVar(&g.Version, "version", "", "zonegate's version, the version of the SBOM's main component (make: VERSION)")
	flag.StringVar(&g.RepoDir, "repo", "../..", "zonegate's checkout, for the licence of zonegate itself (../.. is the checkout when run in buildroot/release)")
	flag.StringVar(&g.Go, "go", g.Go, "the go tool")
	verbose := flag.Bool("v", false, "show cyclonedx-gomod's messages")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: zonegate-sbom -version VERSION [-repo DIR] BINARY...\n"+
			"       zonegate-sbom modules SBOM\n"+
			"       zonegate-sbom merge -image IMAGE.cdx.json [-ref zonegate] [-url URL] -o OUT SBOM\n")
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
		fmt.Printf("sbom %s (CycloneDX %s, checked against the binary)\n", out, sbom.SpecVersion)
	}
}

// modules prints "PATH VERSION LICENCE[,LICENCE…]" for the main component
// and then every component, in the SBOM's order.
func modules(args []string) {
	if len(args) != 1 {
		fmt.Fprintln(os.Stderr, "usage: zonegate-sbom modules SBOM")
		os.Exit(2)
	}
	doc, err := os.ReadFile(args[0])
	if err != nil {
		fail(err)
	}
	bom := new(cdx.BOM)
	if err := cdx.NewBOMDecoder(bytes.NewReader(doc), cdx.BOMFileFormatJSON).Decode(bom); err != nil {
		fail(fmt.Errorf("%s: %w", args[0], err))
	}
	if bom.Metadata == nil || bom.Metadata.Component == nil {
		fail(fmt.Errorf("%s: no metadata.component", args[0]))
	}
	line := func(c *cdx.Component) {
		var ids []string
		if c.Licenses != nil {
			for _, l := range *c.Licenses {
				switch {
				case l.Expression != "":
					ids = append(ids, l.Expression)
				case l.License != nil && l.License.ID != "":
					ids = append(ids, l.License.ID)
				case l.License != nil:
					ids = append(ids, l.License.Name)
				}
			}
		}
		fmt.Printf("%s %s %s\n", c.Name, c.Version, strings.Join(ids, ","))
	}
	line(bom.Metadata.Component)
	if bom.Components != nil {
		for i := range *bom.Components {
			line(&(*bom.Components)[i])
		}
	}
}

func merge(args []string) {
	fs := flag.NewFlagSet("zonegate-sbom merge", flag.ExitOnError)
	image := fs.String("image", "", "the image's SBOM (Buildroot: make show-info | utils/generate-cyclonedx)")
	ref := fs.String("ref", "zonegate", "bom-ref of zonegate's component in the image SBOM (Buildroot: the package name)")
	url := fs.String("url", "", "where the image keeps zonegate's SBOM, e.g. file:///usr/share/zonegate/zonegate.cdx.json")
	out := fs.String("o", "", "the merged SBOM to write")
	fs.Parse(args)
	if *image == "" || *out == "" || fs.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: zonegate-sbom merge -image IMAGE.cdx.json [-ref zonegate] [-url URL] -o OUT SBOM")
		os.Exit(2)
	}
	img, err := os.ReadFile(*image)
	if err != nil {
		fail(err)
	}
	zg, err := os.ReadFile(fs.Arg(0))
	if err != nil {
		fail(err)
	}
	merged, err := sbom.Merge(img, zg, *ref, *url)
	if err != nil {
		fail(err)
	}
	if err := os.WriteFile(*out, merged, 0o644); err != nil {
		fail(err)
	}
	fmt.Printf("sbom %s: %s with zonegate's Go modules\n", *out, *image)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "zonegate-sbom:", err)
	os.Exit(1)
}
