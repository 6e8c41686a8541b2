#!/usr/bin/env bash
# check-banned.sh - fail when C sources call a banned function.
#
# Banned (curl's list, trimmed to what bites here): sprintf, vsprintf, strcpy,
# strcat, atoi, atol, strtok, gets, and the scanf family with a %s or %[
# conversion that has no field width. Use snprintf, the bounded strbuf and
# strparse modules, strtok_r... (see docs and tt/strparse.h).
#
# Scans *.c and *.h under libcommon/, services/, tools/ (or the paths given).
# Comments and string literals are blanked first, so prose may name the
# functions. A line can opt out with the comment  /* tt-allow-banned: why */.
# Prints file:line: call -- and exits 1 when anything is found.
set -euo pipefail

root=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd -P)
cd "$root"

if (($#)); then dirs=("$@"); else dirs=(libcommon services tools); fi
mapfile -t files < <(find "${dirs[@]}" -type f \( -name '*.c' -o -name '*.h' \) 2>/dev/null | sort)

if ((${#files[@]} == 0)); then
	echo "check-banned: no C sources found"
	exit 0
fi

# One awk pass over every file: strip comments and string/char literals
# (keeping line numbers), then look for the calls. Format strings of the
# scanf family are inspected before literals are blanked.
awk '
function report(what) {
	printf "%s:%d: %s\n", FILENAME, FNR, what
	found++
}
FNR == 1 { in_comment = 0 }
{
	raw = $0
	if (raw ~ /tt-allow-banned/) next
	line = ""
	s = raw
	# Blank comments and literals, character by character.
	out = ""
	n = length(s)
	i = 1
	while (i <= n) {
		c = substr(s, i, 1)
		two = substr(s, i, 2)
		if (in_comment) {
			if (two == "*/") { in_comment = 0; i += 2; out = out "  "; continue }
			out = out " "; i++; continue
		}
		if (two == "/*") { in_comment = 1; out = out "  "; i += 2; continue }
		if (two == "//") break
		if (c == "\"" || c == "\047") {
			q = c; out = out q; i++
			while (i <= n) {
				c = substr(s, i, 1)
				if (c == "\\") { out = out "  "; i += 2; continue }
				if (c == q) break
				out = out " "; i++
			}
			out = out q; i++
			continue
		}
		out = out c; i++
	}
	code = out

	rest = code
	while (match(rest, /(^|[^A-Za-z0-9_.>])(sprintf|vsprintf|strcpy|strcat|atoi|atol|strtok|gets)[ \t]*\(/)) {
		m = substr(rest, RSTART, RLENGTH)
		rest = substr(rest, RSTART + RLENGTH)
		sub(/^[^A-Za-z_]/, "", m); sub(/[ \t]*\($/, "", m)
		report(m "() is banned")
	}
	# scanf family: an unbounded %s or %[ (no field width) in a format
	# literal of the same line.
	if (match(code, /(^|[^A-Za-z0-9_.>])(scanf|fscanf|sscanf|vscanf|vsscanf|vfscanf)[ \t]*\(/)) {
		m = substr(code, RSTART, RLENGTH)
		sub(/^[^A-Za-z_]/, "", m); sub(/[ \t]*\($/, "", m)
		rest = substr(raw, RSTART)
		if (rest ~ /%\*?(hh|h|ll|l|L|m)?[s[]/)
			report(m "() with a %s or %[ conversion without a field width")
		else if (rest !~ /"/)
			report(m "() whose format is not a literal on the same line (cannot be checked)")
	}
}
END { exit found ? 1 : 0 }
' "${files[@]}" && rc=0 || rc=$?

if ((rc == 0)); then
	echo "check-banned: ${#files[@]} files clean"
	exit 0
fi
echo "check-banned: banned calls found (use snprintf, tt/strbuf.h, tt/strparse.h, strtok_r)" >&2
exit 1
