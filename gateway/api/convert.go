package api

import "github.com/zonegate/zonegate/gateway/zone"

// The model's own types in their wire form. The daemon and the version
// store use the zone model's types; the API shows them with the JSON keys
// below, so the wire format is written down here only.

// ModelVersionOf is the wire form of a kept model version.
func ModelVersionOf(v zone.ModelVersion) ModelVersion { return ModelVersion(v) }

// ModelVersionsOf is the wire form of a model history (nil stays nil:
// JSON null, as the history of a gateway without versions always was).
func ModelVersionsOf(vs []zone.ModelVersion) []ModelVersion {
	if vs == nil {
		return nil
	}
	out := make([]ModelVersion, len(vs))
	for i, v := range vs {
		out[i] = ModelVersionOf(v)
	}
	return out
}

// PendingOf is the wire form of a change waiting for confirmation; nil
// when none waits.
func PendingOf(p *zone.Pending) *Pending {
	if p == nil {
		return nil
	}
	w := Pending(*p)
	return &w
}
