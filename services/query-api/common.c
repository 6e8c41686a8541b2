/*
 * common.c - the answers every query-api handler gives the same way:
 * dependency failures (503 or 500, details only in the log) and the
 * authorisation refusals (403, or 400 for a malformed venueId).
 */
#include "qapi.h"

#include <stdio.h>

#include "tt/log.h"

void
qapi_fail(tt_http_req *req, tt_err e, const char *what, const char *detail)
{
	bool unavailable = e == TT_ECONN || e == TT_ETIMEDOUT || e == TT_EREDIS;

	tt_log(unavailable ? TT_LOG_WARN : TT_LOG_ERROR, what,
	    "error", tt_err_name(e), "detail", detail != NULL ? detail : "",
	    "route", tt_http_route_pattern(req), "request_id", tt_http_request_id(req), NULL);
	tt_http_respond_status(req, unavailable ? 503 : 500);
}

bool
qapi_require_permission(tt_http_req *req, const char *perm)
{
	char msg[128];

	if (tt_auth_has_permission(tt_http_claims(req), perm))
		return true;
	snprintf(msg, sizeof(msg), "Missing permission: %s", perm);
	tt_http_respond_error(req, 403, "FORBIDDEN", msg, NULL);
	return false;
}

bool
qapi_resolve_venue(tt_http_req *req, const char *requested, char out[TT_AUTH_VENUE_MAX])
{
	char detail[128];
	tt_err e;

	detail[0] = '\0';
	e = tt_auth_resolve_venue(tt_http_claims(req), requested, out, detail, sizeof(detail));
	if (e == TT_OK)
		return true;
	if (e == TT_EFORBIDDEN) {
		tt_http_respond_error(req, 403, "FORBIDDEN", "No access to this venue", NULL);
	} else {
		tt_http_details d;
		tt_http_details_init(&d);
		tt_http_details_add(&d, "venueId", "%s", detail[0] ? detail : "invalid venueId");
		tt_http_respond_invalid(req, &d);
		tt_http_details_fini(&d);
	}
	return false;
}

bool
qapi_venue_param(tt_http_req *req, char out[TT_AUTH_VENUE_MAX])
{
	char requested[TT_AUTH_VENUE_MAX + 1];
	tt_err e = tt_http_query(req, "venueId", requested, sizeof(requested));

	if (e != TT_OK && e != TT_ENOTFOUND) {
		tt_http_details d;
		tt_http_details_init(&d);
		tt_http_details_add(&d, "venueId", "must be 1-64 characters of A-Z a-z 0-9 . _ : -");
		tt_http_respond_invalid(req, &d);
		tt_http_details_fini(&d);
		return false;
	}
	return qapi_resolve_venue(req, e == TT_OK ? requested : NULL, out);
}
