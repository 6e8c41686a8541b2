/*
 * auth.c - HS256 JWT verification and the authorisation rules of tt/auth.h.
 *
 * Order of checks, cheapest and most dangerous first: size, shape (three
 * base64url parts), the header's alg (so that alg:none or an asymmetric alg
 * is refused before any key is involved), the payload's JSON, then libjwt's
 * HMAC check with the secret, then the claims and the times. libjwt 1.10
 * has no claim validation of its own, so exp/nbf are checked here.
 *
 * The payload is parsed from the very bytes the signature covers, with
 * cJSON, so the claims seen here are exactly the signed ones.
 *
 * The per-thread cache holds the last few tokens that passed the signature
 * and claim checks, keyed by the verifier's serial number and the exact
 * token bytes. It is heap memory behind a pthread key (freed when the
 * thread exits), not a large _Thread_local array in every thread.
 */
#include "tt/auth.h"

#include <cjson/cJSON.h>
#include <jwt.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SECRET_MAX     1024
#define HEADER_MAX     1024   /* decoded header bytes */
#define CACHE_ENTRIES  4
#define CACHE_TOKEN_MAX 2048  /* longer tokens are verified every time */

struct tt_auth {
	unsigned char secret[SECRET_MAX];
	int           secret_len;
	int           leeway;
	uint64_t      serial;
};

typedef struct {
	uint64_t       serial;    /* 0: empty */
	size_t         len;
	char           token[CACHE_TOKEN_MAX];
	int64_t        nbf;
	tt_auth_claims claims;
} cache_entry;

typedef struct {
	cache_entry e[CACHE_ENTRIES];
	unsigned    next;
} auth_cache;

static _Atomic uint64_t auth_serial;
static pthread_once_t cache_once = PTHREAD_ONCE_INIT;
static pthread_key_t cache_key;

static void
cache_key_init(void)
{
	pthread_key_create(&cache_key, free);
}

static auth_cache *
cache_get(void)
{
	auth_cache *c;

	pthread_once(&cache_once, cache_key_init);
	c = pthread_getspecific(cache_key);
	if (c == NULL) {
		c = calloc(1, sizeof(*c));
		if (c != NULL && pthread_setspecific(cache_key, c) != 0) {
			free(c);
			c = NULL;
		}
	}
	return c;
}

tt_err
tt_auth_new(tt_auth **out, const char *secret, int leeway_sec)
{
	tt_auth *a;
	size_t n;

	if (out == NULL || secret == NULL)
		return TT_EINVAL;
	n = strlen(secret);
	if (n == 0 || n > SECRET_MAX || leeway_sec < 0 || leeway_sec > 300)
		return TT_EINVAL;
	a = calloc(1, sizeof(*a));
	if (a == NULL)
		return TT_ENOMEM;
	memcpy(a->secret, secret, n);
	a->secret_len = (int)n;
	a->leeway = leeway_sec;
	a->serial = atomic_fetch_add(&auth_serial, 1) + 1;
	*out = a;
	return TT_OK;
}

void
tt_auth_free(tt_auth *a)
{
	if (a == NULL)
		return;
	/* The secret does not outlive the verifier in freed memory. */
	memset(a->secret, 0, sizeof(a->secret));
	free(a);
}

/* ---- base64url ------------------------------------------------------- */

static int
b64url_val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

/* Decodes unpadded base64url s[0..n) into out (cap bytes); -1 if invalid. */
static long
b64url_decode(const char *s, size_t n, unsigned char *out, size_t cap)
{
	uint32_t acc = 0;
	int bits = 0;
	size_t o = 0;

	if (n % 4 == 1)
		return -1;
	for (size_t i = 0; i < n; i++) {
		int v = b64url_val(s[i]);
		if (v < 0)
			return -1;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o >= cap)
				return -1;
			out[o++] = (unsigned char)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	return (long)o;
}

/* ---- claims -------------------------------------------------------------- */

bool
tt_auth_venue_id_valid(const char *s, size_t len)
{
	if (s == NULL || len == 0 || len > TT_AUTH_VENUE_MAX - 1)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '_' || c == ':' || c == '-'))
			return false;
	}
	return true;
}

/* Copies a string claim of 1..cap-1 bytes without NUL or control bytes. */
static bool
claim_str(const cJSON *v, char *dst, size_t cap)
{
	size_t n;

	if (!cJSON_IsString(v) || v->valuestring == NULL)
		return false;
	n = strlen(v->valuestring);
	if (n == 0 || n >= cap)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)v->valuestring[i] < 0x20 || v->valuestring[i] == 0x7f)
			return false;
	memcpy(dst, v->valuestring, n + 1);
	return true;
}

/* A NumericDate: finite, 0 < t < 2^53; fractions are dropped. */
static bool
claim_time(const cJSON *v, int64_t *out)
{
	if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) ||
	    v->valuedouble <= 0 || v->valuedouble >= 9007199254740992.0)
		return false;
	*out = (int64_t)floor(v->valuedouble);
	return true;
}

static tt_err
claims_parse(const cJSON *p, tt_auth_claims *c, int64_t *nbf, char *err, size_t errlen)
{
	const cJSON *v;

	memset(c, 0, sizeof(*c));
	*nbf = 0;
	if (!cJSON_IsObject(p))
		return tt_seterr(err, errlen, TT_EAUTH, "invalid claims: payload is not an object");
	if (!claim_str(cJSON_GetObjectItemCaseSensitive(p, "userId"), c->user_id, sizeof(c->user_id)))
		return tt_seterr(err, errlen, TT_EAUTH, "invalid claims: userId");
	v = cJSON_GetObjectItemCaseSensitive(p, "venueId");
	if (v != NULL && !cJSON_IsNull(v)) {
		if (!cJSON_IsString(v) || v->valuestring == NULL ||
		    !tt_auth_venue_id_valid(v->valuestring, strlen(v->valuestring)))
			return tt_seterr(err, errlen, TT_EAUTH, "invalid claims: venueId");
		memcpy(c->venue_id, v->valuestring, strlen(v->valuestring) + 1);
	}
	v = cJSON_GetObjectItemCaseSensitive(p, "role");
	if (v != NULL && !cJSON_IsNull(v) && !claim_str(v, c->role, sizeof(c->role)))
		return tt_seterr(err, errlen, TT_EAUTH, "invalid claims: role");
	c->admin = strcmp(c->role, "admin") == 0;
	v = cJSON_GetObjectItemCaseSensitive(p, "permissions");
	if (v != NULL && !cJSON_IsNull(v)) {
		const cJSON *it;
		if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) > TT_AUTH_PERMS_MAX)
			return tt_seterr(err, errlen, TT_EAUTH, "invalid claims: permissions");
		cJSON_ArrayForEach(it, v) {
			if (!claim_str(it, c->perms[c->nperms], sizeof(c->perms[0])))
				return tt_seterr(err, errlen, TT_EAUTH, "invalid claims: permissions");
			c->nperms++;
		}
	}
	v = cJSON_GetObjectItemCaseSensitive(p, "exp");
	/* exp 0 (or 0.x) is 1970, long expired; 0 also means "no exp" in c->exp. */
	if (v != NULL && (!claim_time(v, &c->exp) || c->exp <= 0))
		return tt_seterr(err, errlen, TT_EAUTH, "invalid claims: exp");
	v = cJSON_GetObjectItemCaseSensitive(p, "nbf");
	if (v != NULL && !claim_time(v, nbf))
		return tt_seterr(err, errlen, TT_EAUTH, "invalid claims: nbf");
	return TT_OK;
}

static tt_err
times_check(const tt_auth *a, int64_t exp, int64_t nbf, int64_t now, char *err, size_t errlen)
{
	if (exp != 0 && now >= exp + a->leeway)
		return tt_seterr(err, errlen, TT_EAUTH, "token expired");
	if (nbf != 0 && now + a->leeway < nbf)
		return tt_seterr(err, errlen, TT_EAUTH, "token not yet valid");
	return TT_OK;
}

/* ---- verification ------------------------------------------------------- */

/* Header: a JSON object whose alg is exactly "HS256". */
static tt_err
header_check(const char *s, size_t n, char *err, size_t errlen)
{
	unsigned char buf[HEADER_MAX];
	long dn = b64url_decode(s, n, buf, sizeof(buf));
	cJSON *h;
	const cJSON *alg;
	tt_err e = TT_OK;

	if (dn <= 0)
		return tt_seterr(err, errlen, TT_EPARSE, "malformed token: header encoding");
	h = cJSON_ParseWithLength((const char *)buf, (size_t)dn);
	if (!cJSON_IsObject(h)) {
		cJSON_Delete(h);
		return tt_seterr(err, errlen, TT_EPARSE, "malformed token: header is not a JSON object");
	}
	alg = cJSON_GetObjectItemCaseSensitive(h, "alg");
	if (!cJSON_IsString(alg) || strcmp(alg->valuestring, "HS256") != 0)
		e = tt_seterr(err, errlen, TT_EAUTH, "unsupported algorithm");
	else if (cJSON_GetObjectItemCaseSensitive(h, "crit") != NULL)
		e = tt_seterr(err, errlen, TT_EAUTH, "unsupported critical header");
	cJSON_Delete(h);
	return e;
}

static const cache_entry *
cache_find(const auth_cache *c, uint64_t serial, const char *token, size_t len)
{
	if (c == NULL || len > CACHE_TOKEN_MAX)
		return NULL;
	for (int i = 0; i < CACHE_ENTRIES; i++) {
		const cache_entry *e = &c->e[i];
		if (e->serial == serial && e->len == len && memcmp(e->token, token, len) == 0)
			return e;
	}
	return NULL;
}

static void
cache_put(auth_cache *c, uint64_t serial, const char *token, size_t len,
    int64_t nbf, const tt_auth_claims *claims)
{
	cache_entry *e;

	if (c == NULL || len > CACHE_TOKEN_MAX)
		return;
	e = &c->e[c->next++ % CACHE_ENTRIES];
	e->serial = serial;
	e->len = len;
	memcpy(e->token, token, len);
	e->nbf = nbf;
	e->claims = *claims;
}

tt_err
tt_auth_verify(const tt_auth *a, const char *token, size_t len, int64_t now_sec,
    tt_auth_claims *claims, char *err, size_t errlen)
{
	size_t dot1, dot2;
	auth_cache *cache = cache_get();
	const cache_entry *hit;
	char *tok = NULL;
	unsigned char *pbuf = NULL;
	cJSON *payload = NULL;
	jwt_t *jwt = NULL;
	tt_auth_claims c;
	int64_t nbf;
	long pn;
	tt_err e;

	if (a == NULL || claims == NULL)
		return TT_EINVAL;
	if (token == NULL || len == 0)
		return tt_seterr(err, errlen, TT_EAUTH, "missing token");
	if (len > TT_AUTH_TOKEN_MAX)
		return tt_seterr(err, errlen, TT_ETOOBIG, "token longer than %d bytes", TT_AUTH_TOKEN_MAX);

	hit = cache_find(cache, a->serial, token, len);
	if (hit != NULL) {
		e = times_check(a, hit->claims.exp, hit->nbf, now_sec, err, errlen);
		if (e == TT_OK)
			*claims = hit->claims;
		return e;
	}

	/* Shape: header.payload.signature, every byte base64url or a dot. */
	dot1 = dot2 = SIZE_MAX;
	for (size_t i = 0; i < len; i++) {
		if (token[i] == '.') {
			if (dot1 == SIZE_MAX)
				dot1 = i;
			else if (dot2 == SIZE_MAX)
				dot2 = i;
			else
				return tt_seterr(err, errlen, TT_EPARSE, "malformed token: too many parts");
		} else if (b64url_val(token[i]) < 0) {
			return tt_seterr(err, errlen, TT_EPARSE, "malformed token: invalid character");
		}
	}
	if (dot2 == SIZE_MAX || dot1 == 0 || dot2 == dot1 + 1)
		return tt_seterr(err, errlen, TT_EPARSE, "malformed token: expected three parts");
	if ((e = header_check(token, dot1, err, errlen)) != TT_OK)
		return e;
	if (dot2 + 1 == len)
		return tt_seterr(err, errlen, TT_EAUTH, "invalid signature");

	pbuf = malloc(len);
	tok = malloc(len + 1);
	if (pbuf == NULL || tok == NULL) {
		e = TT_ENOMEM;
		goto out;
	}
	pn = b64url_decode(token + dot1 + 1, dot2 - dot1 - 1, pbuf, len);
	payload = pn > 0 ? cJSON_ParseWithLength((const char *)pbuf, (size_t)pn) : NULL;
	if (payload == NULL) {
		e = tt_seterr(err, errlen, TT_EPARSE, "malformed token: payload is not JSON");
		goto out;
	}

	memcpy(tok, token, len);
	tok[len] = '\0';
	if (jwt_decode(&jwt, tok, a->secret, a->secret_len) != 0 || jwt == NULL ||
	    jwt_get_alg(jwt) != JWT_ALG_HS256) {
		e = tt_seterr(err, errlen, TT_EAUTH, "invalid signature");
		goto out;
	}
	if ((e = claims_parse(payload, &c, &nbf, err, errlen)) != TT_OK)
		goto out;
	cache_put(cache, a->serial, token, len, nbf, &c);
	if ((e = times_check(a, c.exp, nbf, now_sec, err, errlen)) != TT_OK)
		goto out;
	*claims = c;
out:
	if (jwt != NULL)
		jwt_free(jwt);
	cJSON_Delete(payload);
	free(pbuf);
	free(tok);
	return e;
}

tt_err
tt_auth_verify_header(const tt_auth *a, const char *authorization, int64_t now_sec,
    tt_auth_claims *claims, char *err, size_t errlen)
{
	const char *p = authorization;
	size_t n;

	if (p == NULL || strncasecmp(p, "Bearer", 6) != 0 || (p[6] != ' ' && p[6] != '\t'))
		return tt_seterr(err, errlen, TT_EAUTH, "missing bearer token");
	p += 6;
	while (*p == ' ' || *p == '\t')
		p++;
	n = strlen(p);
	while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
		n--;
	if (n == 0)
		return tt_seterr(err, errlen, TT_EAUTH, "missing bearer token");
	return tt_auth_verify(a, p, n, now_sec, claims, err, errlen);
}

/* ---- authorisation -------------------------------------------------------- */

bool
tt_auth_venue_allowed(const tt_auth_claims *c, const char *venue_id)
{
	if (c == NULL || venue_id == NULL || venue_id[0] == '\0')
		return false;
	if (c->admin)
		return true;
	return c->venue_id[0] != '\0' && strcmp(c->venue_id, venue_id) == 0;
}

tt_err
tt_auth_resolve_venue(const tt_auth_claims *c, const char *requested,
    char out[TT_AUTH_VENUE_MAX], char *err, size_t errlen)
{
	const char *v;

	if (c == NULL || out == NULL)
		return TT_EINVAL;
	if (requested != NULL && requested[0] != '\0' &&
	    !tt_auth_venue_id_valid(requested, strlen(requested)))
		return tt_seterr(err, errlen, TT_EINVAL, "venueId must be 1-64 characters of A-Z a-z 0-9 . _ : -");
	if (c->admin) {
		v = requested != NULL && requested[0] != '\0' ? requested : c->venue_id;
		if (v[0] == '\0')
			return tt_seterr(err, errlen, TT_EINVAL, "venueId is required");
	} else {
		if (c->venue_id[0] == '\0')
			return tt_seterr(err, errlen, TT_EFORBIDDEN, "token has no venue");
		if (requested != NULL && requested[0] != '\0' && strcmp(requested, c->venue_id) != 0)
			return tt_seterr(err, errlen, TT_EFORBIDDEN, "no access to this venue");
		v = c->venue_id;
	}
	memcpy(out, v, strlen(v) + 1);
	return TT_OK;
}

bool
tt_auth_has_permission(const tt_auth_claims *c, const char *perm)
{
	if (c == NULL || perm == NULL)
		return false;
	if (c->admin)
		return true;
	for (int i = 0; i < c->nperms; i++)
		if (strcmp(c->perms[i], "*") == 0 || strcmp(c->perms[i], perm) == 0)
			return true;
	return false;
}
