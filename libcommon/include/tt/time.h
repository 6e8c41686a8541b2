/*
 * tt/time.h - UTC instants and ISO 8601.
 *
 * An instant is int64 milliseconds since the Unix epoch, UTC. Parsing accepts
 * the RFC 3339 profile of ISO 8601 that platform services emit:
 *   YYYY-MM-DDTHH:MM:SS[.fraction](Z|+hh:mm|-hh:mm)
 * and, where a caller allows it, a bare date YYYY-MM-DD (midnight UTC). Years
 * 1970..9999; fields are range-checked (Feb 29 only in leap years, seconds
 * 0..60 with 60 folded to 59.999). Fractions beyond milliseconds truncate.
 */
#ifndef TT_TIME_H
#define TT_TIME_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "tt/error.h"

#define TT_ISO_MAX 32  /* "YYYY-MM-DDTHH:MM:SS.mmmZ" + NUL fits */

enum {
	TT_ISO_DATETIME = 1,  /* a full date-time with offset */
	TT_ISO_DATE     = 2,  /* a bare date */
};

/* Parses s[0..len) in one of the allowed forms (a mask of TT_ISO_*). */
tt_err tt_iso_parse(const char *s, size_t len, int allowed, int64_t *ms);

/* Formats "YYYY-MM-DDTHH:MM:SS.mmmZ"; returns the length. */
size_t tt_iso_format(int64_t ms, char buf[TT_ISO_MAX]);

/* Formats the UTC date "YYYY-MM-DD" of ms; returns the length (10). */
size_t tt_iso_date(int64_t ms, char buf[TT_ISO_MAX]);

/* Days since 1970-01-01 of y-m-d (proleptic Gregorian), no validation. */
int64_t tt_days_from_civil(int64_t y, unsigned m, unsigned d);

/* The instant ms milliseconds from now on clock (for pthread timed waits). */
struct timespec tt_timespec_in(int clock, int64_t ms);

/* Current wall time and monotonic time, milliseconds. */
int64_t tt_now_ms(void);
int64_t tt_mono_ms(void);
double tt_mono_sec(void);

#endif
