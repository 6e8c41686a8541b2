/* error.c - names and messages of tt_err, generated from TT_ERROR_MAP. */
#include "tt/error.h"

#include <stdarg.h>
#include <stdio.h>

static const char *const err_names[] = {
#define TT_ERR_NAME(code, name, msg) [code] = name,
	TT_ERROR_MAP(TT_ERR_NAME)
#undef TT_ERR_NAME
};

static const char *const err_msgs[] = {
#define TT_ERR_MSG(code, name, msg) [code] = msg,
	TT_ERROR_MAP(TT_ERR_MSG)
#undef TT_ERR_MSG
};

const char *
tt_err_name(tt_err e)
{
	if ((unsigned)e >= TT_ERR_COUNT)
		return "EUNKNOWN";
	return err_names[e];
}

const char *
tt_strerror(tt_err e)
{
	if ((unsigned)e >= TT_ERR_COUNT)
		return "unknown error";
	return err_msgs[e];
}

tt_err
tt_seterr(char *err, size_t errlen, tt_err e, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return e;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return e;
}
