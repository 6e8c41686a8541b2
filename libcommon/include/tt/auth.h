/*
 * tt/auth.h - JWT verification (libjwt) and venue/permission authorisation.
 *
 * Tokens are HS256 only, signed with JWT_SECRET. The header is read before
 * libjwt sees the token, and anything but "alg":"HS256" is refused (so
 * "none", HS384/HS512 and the RS/ES families never reach a key). Then libjwt
 * checks the signature and tt_auth checks the times: a token is expired
 * when now >= exp + leeway, not yet valid when now + leeway < nbf. Tokens
 * without exp are accepted (the seed's jsonwebtoken does the same).
 *
 * Claims (the platform's): userId (string, required), venueId (string or
 * null; required in practice for everyone but admins), role (string,
 * "admin" sees every venue), permissions (array of strings; "*" grants all).
 * Every claim is bounded; a claim of the wrong type or size makes the whole
 * token invalid.
 *
 * Errors of tt_auth_verify(), all of which mean HTTP 401:
 *   TT_EAUTH    missing token, wrong algorithm, bad signature, expired,
 *               not yet valid, invalid claims (detail in err says which)
 *   TT_EPARSE   not a JWT: not three base64url parts, header not JSON
 *   TT_ETOOBIG  longer than TT_AUTH_TOKEN_MAX
 * The detail never contains the token or the secret.
 */
#ifndef TT_AUTH_H
#define TT_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tt/error.h"

#define TT_AUTH_TOKEN_MAX     8192  /* bytes of the compact token */
#define TT_AUTH_ID_MAX        129   /* userId: 1..128 bytes + NUL */
#define TT_AUTH_VENUE_MAX     65    /* venueId: 1..64 of [A-Za-z0-9._:-] + NUL */
#define TT_AUTH_ROLE_MAX      33    /* role: up to 32 bytes + NUL */
#define TT_AUTH_PERMS_MAX     64    /* permissions per token */
#define TT_AUTH_PERM_MAX      65    /* one permission: up to 64 bytes + NUL */
#define TT_AUTH_LEEWAY_DEFAULT 30   /* seconds of clock skew tolerated */

typedef struct {
	char    user_id[TT_AUTH_ID_MAX];
	char    venue_id[TT_AUTH_VENUE_MAX];  /* "" when the token has none */
	char    role[TT_AUTH_ROLE_MAX];       /* "" when the token has none */
	int     nperms;
	char    perms[TT_AUTH_PERMS_MAX][TT_AUTH_PERM_MAX];
	int64_t exp;                          /* 0 when the token has none */
	bool    admin;                        /* role == "admin" */
} tt_auth_claims;

typedef struct tt_auth tt_auth;

/*
 * A verifier for one secret (copied; 1..1024 bytes) and a leeway in seconds
 * (0..300). TT_EINVAL for an empty secret or a leeway out of range. The
 * verifier is immutable and may be shared by any number of threads.
 */
tt_err tt_auth_new(tt_auth **out, const char *secret, int leeway_sec);
void tt_auth_free(tt_auth *a);

/*
 * Verifies token[0..len) at time now_sec (Unix seconds) and fills *claims
 * on success only. Thread-safe. A small per-thread cache remembers tokens
 * that verified (the exact bytes, for this verifier), so that a client
 * reusing its token costs a memcmp, not an HMAC; the times are still
 * checked against now_sec on every call.
 */
tt_err tt_auth_verify(const tt_auth *a, const char *token, size_t len,
    int64_t now_sec, tt_auth_claims *claims, char *err, size_t errlen);

/*
 * Same, from an Authorization header value ("Bearer <token>", the scheme
 * case-insensitive). NULL or another scheme is TT_EAUTH "missing bearer
 * token".
 */
tt_err tt_auth_verify_header(const tt_auth *a, const char *authorization,
    int64_t now_sec, tt_auth_claims *claims, char *err, size_t errlen);

/* True for 1..64 chars of [A-Za-z0-9._:-] (the proto's venueId rule). */
bool tt_auth_venue_id_valid(const char *s, size_t len);

/* Admin: any venue. Others: only the token's own (non-empty) venueId. */
bool tt_auth_venue_allowed(const tt_auth_claims *c, const char *venue_id);

/*
 * The venue a request acts on. requested is the venueId the client named
 * (NULL or "" for none). Non-admin: requested must be absent or equal to
 * the token's venue, else TT_EFORBIDDEN (also when the token has no venue).
 * Admin: requested, else the token's own, else TT_EINVAL "venueId
 * is required". A requested venueId that is malformed is TT_EINVAL. On success
 * copies the venue into out (TT_AUTH_VENUE_MAX bytes).
 */
tt_err tt_auth_resolve_venue(const tt_auth_claims *c, const char *requested,
    char out[TT_AUTH_VENUE_MAX], char *err, size_t errlen);

/* Admin, a "*" permission, or perm itself among the token's permissions. */
bool tt_auth_has_permission(const tt_auth_claims *c, const char *perm);

#endif
