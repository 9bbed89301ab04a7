// Package deps lists the packages a package of this module links, for the
// tests that keep the dependency rules (protocols/modbus links neither net
// nor a logger; the proxy engine links no protocol). It reads the source
// with go/build (build constraints of the running platform), so it needs
// neither the go command nor a module cache: the module's packages are
// read from the repository, the standard library's from GOROOT, and a
// package from another module is listed but not followed (it cannot
// import this module's packages).
package deps

import (
	"go/build"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// Module is this module's path.
const Module = "github.com/zonegate/zonegate"

// Of returns every package dir (a directory of this module) links,
// directly or not, and the package of dir itself.
func Of(dir string) (map[string]bool, error) {
	root, err := moduleRoot(dir)
	if err != nil {
		return nil, err
	}
	ctxt := build.Default
	ctxt.GOROOT = runtime.GOROOT()
	if g := os.Getenv("GOROOT"); g != "" {
		ctxt.GOROOT = g
	}
	ctxt.CgoEnabled = false
	seen := map[string]bool{}
	var walk func(path, dir string) error
	walk = func(path, dir string) error {
		if seen[path] {
			return nil
		}
		seen[path] = true
		p, err := ctxt.ImportDir(dir, 0)
		if err != nil {
			return err
		}
		for _, imp := range p.Imports {
			switch {
			case imp == "C" || imp == "unsafe":
				seen[imp] = true
			case imp == Module || strings.HasPrefix(imp, Module+"/"):
				if err := walk(imp, filepath.Join(root, strings.TrimPrefix(strings.TrimPrefix(imp, Module), "/"))); err != nil {
					return err
				}
			case !strings.Contains(strings.Split(imp, "/")[0], "."):
				// The standard library (its vendored packages too).
				d := filepath.Join(ctxt.GOROOT, "src", imp)
				if _, err := os.Stat(d); err != nil {
					d = filepath.Join(ctxt.GOROOT, "src", "vendor", imp)
				}
				if err := walk(imp, d); err != nil {
					return err
				}
			default:
				seen[imp] = true
			}
		}
		return nil
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	rel, err := filepath.Rel(root, abs)
	if err != nil {
		return nil, err
	}
	return seen, walk(filepath.ToSlash(filepath.Join(Module, rel)), abs)
}

// moduleRoot is the directory of go.mod above dir.
func moduleRoot(dir string) (string, error) {
	d, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", os.ErrNotExist
		}
		d = parent
	}
}
