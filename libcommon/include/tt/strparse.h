/*
 * tt/strparse.h - bounded number parsing (no atoi/strtol surprises).
 *
 * Each parser reads exactly s[0..len) (s need not be NUL-terminated), accepts
 * the whole range or fails, and writes *out only on success.
 */
#ifndef TT_STRPARSE_H
#define TT_STRPARSE_H

#include <stddef.h>
#include <stdint.h>

#include "tt/error.h"

/* Optional '-' or '+' then decimal digits; TT_ERANGE outside [min,max]. */
tt_err tt_parse_i64(const char *s, size_t len, int64_t min, int64_t max, int64_t *out);

/*
 * A one-dimensional integer array in PostgreSQL's text output, exactly
 * "{c,c,...}" or "{}": cells of an optional '-' and decimal digits, each in
 * [min,max], separated by single commas; no spaces, no NULL, nothing after
 * the '}'. Up to outmax cells into out and their count into *n. TT_EPARSE
 * for anything else, TT_ERANGE for a cell outside [min,max], TT_ETOOBIG for
 * more than outmax cells; out and *n are then unspecified.
 */
tt_err tt_parse_pg_int_array(const char *s, size_t len, int64_t min, int64_t max,
    int64_t *out, size_t outmax, size_t *n);

/* "true"/"false"/"1"/"0"/"yes"/"no" (any case). */
tt_err tt_parse_bool(const char *s, size_t len, int *out);

/* Writes v in decimal into buf (at least 21 bytes); returns the length. */
size_t tt_fmt_i64(int64_t v, char buf[21]);

/*
 * FNV-1a of a NUL-terminated string: a fast, non-cryptographic hash for
 * in-memory tables (never for anything an attacker's collisions could
 * hurt beyond a slower probe).
 */
static inline uint32_t
tt_hash_str(const char *s)
{
	uint32_t h = 2166136261u;
	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

#endif
