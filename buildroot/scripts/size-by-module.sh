#!/bin/sh
# size-by-module.sh BINARY: what each module costs in a zonegate binary.
# Sums the sizes that `go tool nm -size` gives for the symbols stored in the
# file (code, read-only data, data; not .bss), by module. Not attributed:
# .gopclntab (function tables, about 70% of the code size on top of it) and
# the symbol and debug sections that stripping removes. Needs an unstripped
# binary (built without -s -w) and readelf (binutils).
set -eu
GO=${GO:-go}
bin=${1:?usage: size-by-module.sh BINARY}

# Where the file-backed data ends: the first NOBITS section (.bss).
bss=$(readelf -SW "$bin" | awk '$0 ~ /NOBITS/ { for (i = 1; i <= NF; i++) if ($i == "NOBITS") { print $(i + 1); exit } }')
# Module paths of the build, longest first, so that the longest prefix wins.
modules=$("$GO" version -m "$bin" |
	awk '$1 == "mod" || $1 == "dep" { print length($2) " " $2 }' |
	sort -rn | cut -d' ' -f2 | tr '\n' ' ')

"$GO" tool nm -size "$bin" | awk -v modules="$modules" -v bss="$bss" '
function hex(s,   i, c, v) {
	v = 0; s = tolower(s)
	for (i = 1; i <= length(s); i++) { c = index("0123456789abcdef", substr(s, i, 1)) - 1; v = v * 16 + c }
	return v
}
BEGIN { n = split(modules, mod, " "); end = hex(bss) }
NF >= 4 && $3 != "U" && hex($1) < end {
	size = $2; name = $4
	sub(/^type:\*?/, "", name); sub(/^go:itab\.\*?/, "", name)
	owner = ""
	for (i = 1; i <= n; i++)
		if (index(name, mod[i]) == 1) { owner = mod[i]; break }
	if (owner == "") {
		if (name ~ /^go:/) owner = "(Go tables: go:func.*, strings)"
		else if (name ~ /^vendor\/golang\.org\/x\//) owner = "std (golang.org/x vendored in std)"
		else if (name ~ /^crypto\//) owner = "std crypto"
		else owner = "std"
	}
	total[owner] += size; all += size
}
END {
	for (o in total) printf "%10d %5.1f%%  %s\n", total[o], 100 * total[o] / all, o
	printf "%10d 100.0%%  (all attributed symbols)\n", all
}' | sort -rn
