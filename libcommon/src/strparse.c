/* strparse.c - bounded number parsing; see tt/strparse.h. */
#include "tt/strparse.h"

#include <strings.h>

tt_err
tt_parse_i64(const char *s, size_t len, int64_t min, int64_t max, int64_t *out)
{
	size_t i = 0;
	int neg = 0;
	uint64_t v = 0;
	const uint64_t lim = (uint64_t)INT64_MAX + 1;

	if (s == NULL || len == 0)
		return TT_EPARSE;
	if (s[0] == '-' || s[0] == '+') {
		neg = s[0] == '-';
		i = 1;
	}
	if (i == len)
		return TT_EPARSE;
	for (; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return TT_EPARSE;
		unsigned d = (unsigned)(s[i] - '0');
		if (v > (lim - d) / 10)
			return TT_ERANGE;
		v = v * 10 + d;
	}
	if (!neg && v > (uint64_t)INT64_MAX)
		return TT_ERANGE;
	int64_t r = neg ? (v == lim ? INT64_MIN : -(int64_t)v) : (int64_t)v;
	if (r < min || r > max)
		return TT_ERANGE;
	*out = r;
	return TT_OK;
}

tt_err
tt_parse_pg_int_array(const char *s, size_t len, int64_t min, int64_t max,
    int64_t *out, size_t outmax, size_t *n)
{
	size_t i = 1, count = 0;

	*n = 0;
	if (s == NULL || len < 2 || s[0] != '{' || s[len - 1] != '}')
		return TT_EPARSE;
	if (len == 2)
		return TT_OK;
	while (i < len) {
		size_t end = i;
		while (end < len - 1 && s[end] != ',')
			end++;
		/* An empty cell ("{1,,2}", "{1,}") or a '+', which PostgreSQL never writes. */
		if (end == i || s[i] == '+')
			return TT_EPARSE;
		if (count == outmax)
			return TT_ETOOBIG;
		tt_err e = tt_parse_i64(s + i, end - i, min, max, &out[count]);
		if (e != TT_OK)
			return e;
		count++;
		i = end + 1;   /* past the ',' or the closing '}' */
	}
	*n = count;
	return TT_OK;
}

tt_err
tt_parse_bool(const char *s, size_t len, int *out)
{
	static const struct { const char *s; int v; } words[] = {
		{ "true", 1 }, { "false", 0 }, { "1", 1 }, { "0", 0 },
		{ "yes", 1 }, { "no", 0 }, { "on", 1 }, { "off", 0 },
	};
	if (s == NULL)
		return TT_EPARSE;
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		size_t wl = 0;
		while (words[i].s[wl] != '\0')
			wl++;
		if (wl == len && strncasecmp(s, words[i].s, len) == 0) {
			*out = words[i].v;
			return TT_OK;
		}
	}
	return TT_EPARSE;
}

size_t
tt_fmt_i64(int64_t v, char buf[21])
{
	char tmp[20];
	uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
	size_t n = 0, len = 0;

	do {
		tmp[n++] = (char)('0' + u % 10);
		u /= 10;
	} while (u != 0);
	if (v < 0)
		buf[len++] = '-';
	while (n > 0)
		buf[len++] = tmp[--n];
	buf[len] = '\0';
	return len;
}
