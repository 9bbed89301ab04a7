package sbom

import (
	"encoding/json"
	"fmt"
)

// Merge puts the Go modules of zonegate's SBOM (sbom, from `make sbom`)
// into the SBOM of a firmware image (image, e.g. the output of Buildroot's
// utils/generate-cyclonedx): they become the sub-components of the image's
// component whose bom-ref is ref (Buildroot: the package name, zonegate),
// with their dependencies, and that component gains zonegate's package URL
// and, when sbomURL is set, a "bom" reference to the full SBOM. Everything
// else in image is kept as it is. The result must pass Validate.
func Merge(image, sbom []byte, ref, sbomURL string) ([]byte, error) {
	var img map[string]any
	if err := json.Unmarshal(image, &img); err != nil {
		return nil, fmt.Errorf("image SBOM: %w", err)
	}
	var zg struct {
		Metadata struct {
			Component map[string]any `json:"component"`
		} `json:"metadata"`
		Components   []any            `json:"components"`
		Dependencies []map[string]any `json:"dependencies"`
	}
	if err := json.Unmarshal(sbom, &zg); err != nil {
		return nil, fmt.Errorf("zonegate SBOM: %w", err)
	}
	if zg.Metadata.Component == nil {
		return nil, fmt.Errorf("zonegate SBOM: no metadata.component")
	}
	mainRef, _ := zg.Metadata.Component["bom-ref"].(string)

	components, _ := img["components"].([]any)
	var target map[string]any
	for _, c := range components {
		if m, ok := c.(map[string]any); ok && m["bom-ref"] == ref {
			target = m
		}
	}
	if target == nil {
		return nil, fmt.Errorf("image SBOM: no component with bom-ref %q (is zonegate in the image?)", ref)
	}
	if _, ok := target["purl"]; !ok {
		target["purl"] = zg.Metadata.Component["purl"]
	}
	target["components"] = zg.Components
	if sbomURL != "" {
		refs, _ := target["externalReferences"].([]any)
		target["externalReferences"] = append(refs, map[string]any{
			"type": "bom", "url": sbomURL, "comment": "CycloneDX SBOM of zonegate and its Go modules (make sbom)",
		})
	}

	deps, _ := img["dependencies"].([]any)
	for _, d := range zg.Dependencies {
		if d["ref"] != mainRef {
			deps = append(deps, d)
			continue
		}
		// zonegate's own entry: its modules join the package's entry.
		merged := false
		for _, e := range deps {
			if m, ok := e.(map[string]any); ok && m["ref"] == ref {
				on, _ := m["dependsOn"].([]any)
				more, _ := d["dependsOn"].([]any)
				m["dependsOn"] = append(on, more...)
				merged = true
			}
		}
		if !merged {
			deps = append(deps, map[string]any{"ref": ref, "dependsOn": d["dependsOn"]})
		}
	}
	img["dependencies"] = deps

	out, err := json.MarshalIndent(img, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := Validate(out); err != nil {
		return nil, fmt.Errorf("the merged SBOM is not valid CycloneDX 1.6: %w", err)
	}
	return append(out, '\n'), nil
}
