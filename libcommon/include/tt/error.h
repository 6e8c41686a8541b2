/*
 * tt/error.h - the one error type of libcommon and every service.
 *
 * Every fallible function returns tt_err (0 = TT_OK). The human detail, when
 * there is one, travels in a caller-supplied buffer (char *err, size_t errlen),
 * never in a global. The list below is the single source of the codes, their
 * names and their messages; add to it, never reorder it.
 */
#ifndef TT_ERROR_H
#define TT_ERROR_H

#include <stddef.h>

/*      code              name               message */
#define TT_ERROR_MAP(X)                                                       \
	X(TT_OK,           "OK",              "success")                      \
	X(TT_ENOMEM,       "ENOMEM",          "out of memory")                \
	X(TT_EINVAL,       "EINVAL",          "invalid argument")             \
	X(TT_EPARSE,       "EPARSE",          "malformed input")              \
	X(TT_ERANGE,       "ERANGE",          "value out of range")           \
	X(TT_ETOOBIG,      "ETOOBIG",         "input exceeds its size limit") \
	X(TT_ENOTFOUND,    "ENOTFOUND",       "not found")                    \
	X(TT_EAUTH,        "EAUTH",           "authentication failed")        \
	X(TT_EFORBIDDEN,   "EFORBIDDEN",      "forbidden")                    \
	X(TT_EIO,          "EIO",             "input/output error")           \
	X(TT_ECONN,        "ECONN",           "connection failed")            \
	X(TT_ETIMEDOUT,    "ETIMEDOUT",       "timed out")                    \
	X(TT_EDB,          "EDB",             "database error")               \
	X(TT_EREDIS,       "EREDIS",          "redis error")                  \
	X(TT_EAMQP,        "EAMQP",           "amqp error")                   \
	X(TT_EBUS,         "EBUS",            "message bus error")            \
	X(TT_ECLOSED,      "ECLOSED",         "closed")                       \
	X(TT_EBUSY,        "EBUSY",           "resource busy")                \
	X(TT_ECONFIG,      "ECONFIG",         "invalid configuration")

typedef enum {
#define TT_ERR_ENUM(code, name, msg) code,
	TT_ERROR_MAP(TT_ERR_ENUM)
#undef TT_ERR_ENUM
	TT_ERR_COUNT
} tt_err;

/* Short symbolic name ("EINVAL"). Never NULL; "EUNKNOWN" for out-of-range. */
const char *tt_err_name(tt_err e);

/* Human message ("invalid argument"). Never NULL. */
const char *tt_strerror(tt_err e);

/*
 * Writes a formatted detail into a caller's buffer (NULL or len 0 is allowed
 * and ignored) and returns e, so that error paths read
 *     return tt_seterr(err, errlen, TT_EPARSE, "line %d", n);
 */
tt_err tt_seterr(char *err, size_t errlen, tt_err e, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
