/*
 * auth_fuzz.c - libFuzzer target for JWT verification (tt/auth.h).
 *
 * The input is a token: verified as given (an exact-size heap copy, no NUL
 * after it) and as an Authorization header "Bearer <input>", with a fixed
 * secret and a fixed clock. The promise under test is the one that
 * matters: verification succeeds only for a token that really is HS256
 * over its first two parts with FUZZ_SECRET. That is decided here without
 * libjwt or libcommon (OpenSSL's HMAC over the bytes, the signature part
 * decoded by the base64url reader below). Random bytes never carry such a
 * signature, so an input with a NUL is also read as
 * "<header JSON>\0<payload JSON>" and signed here with the secret: those
 * genuine tokens reach the header, payload and claim checks, and when one
 * verifies, its claims must be the payload's (userId, venueId, role, exp),
 * its header's alg exactly "HS256" without "crit", and it must be neither
 * expired nor not yet valid at the fixed clock (30 s leeway). Also checked:
 * claims are filled on success only and hold their bounds; the detail is
 * one line and never contains the secret or the token. Leaks are
 * libFuzzer's -detect_leaks.
 */
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "tt/auth.h"
#include "fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
#define FUZZ_SECRET "fuzz-secret-0123456789"
/* date -u -d '2023-11-14T22:13:20Z' +%s */
#define FUZZ_NOW    INT64_C(1700000000)
#define FUZZ_LEEWAY 30

static tt_auth *verifier;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (tt_auth_new(&verifier, FUZZ_SECRET, FUZZ_LEEWAY) != TT_OK)
		abort();
	return 0;
}

/* base64url (RFC 4648 section 5) without padding; -1 when not. */
static long
b64url_decode(const char *s, size_t n, unsigned char *out, size_t cap)
{
	static const char alphabet[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	unsigned long acc = 0;
	int bits = 0;
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		const char *p = s[i] != '\0' ? strchr(alphabet, s[i]) : NULL;
		if (p == NULL)
			return -1;
		acc = (acc << 6) | (unsigned long)(p - alphabet);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o == cap)
				return -1;
			out[o++] = (unsigned char)(acc >> bits);
			acc &= (1ul << bits) - 1;
		}
	}
	return (long)o;
}

/* True when token is "<h>.<p>.<sig>" with sig = HMAC-SHA256(secret, "<h>.<p>"). */
static bool
genuinely_signed(const char *token, size_t len)
{
	const char *dot1 = memchr(token, '.', len);
	const char *dot2 =
	    dot1 != NULL ? memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - token)) : NULL;
	unsigned char want[EVP_MAX_MD_SIZE], got[64];
	unsigned int wantlen = 0;

	if (dot2 == NULL)
		return false;
	size_t signed_len = (size_t)(dot2 - token);
	long gotlen = b64url_decode(dot2 + 1, len - signed_len - 1, got, sizeof(got));
	if (HMAC(EVP_sha256(), FUZZ_SECRET, (int)strlen(FUZZ_SECRET), (const unsigned char *)token,
	        signed_len, want, &wantlen) == NULL)
		return false;
	return gotlen == (long)wantlen && memcmp(got, want, wantlen) == 0;
}

/* base64url of in[0..n) without padding into out (4 * n / 3 + 4 bytes). */
static size_t
b64url_encode(const unsigned char *in, size_t n, char *out)
{
	static const char alphabet[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	size_t o = 0;
	unsigned long acc = 0;
	int bits = 0;

	for (size_t i = 0; i < n; i++) {
		acc = (acc << 8) | in[i];
		bits += 8;
		while (bits >= 6) {
			bits -= 6;
			out[o++] = alphabet[(acc >> bits) & 63];
		}
		acc &= (1ul << bits) - 1;
	}
	if (bits > 0)
		out[o++] = alphabet[(acc << (6 - bits)) & 63];
	return o;
}

static bool
bounded(const char *s, size_t cap)
{
	return memchr(s, '\0', cap) != NULL;
}

static void
check_claims(const tt_auth_claims *c)
{
	CHECK(bounded(c->user_id, sizeof(c->user_id)) && c->user_id[0] != '\0');
	CHECK(bounded(c->venue_id, sizeof(c->venue_id)));
	CHECK(c->venue_id[0] == '\0' || tt_auth_venue_id_valid(c->venue_id, strlen(c->venue_id)));
	CHECK(bounded(c->role, sizeof(c->role)));
	CHECK(c->admin == (strcmp(c->role, "admin") == 0));
	CHECK(c->nperms >= 0 && c->nperms <= TT_AUTH_PERMS_MAX);
	for (int i = 0; i < c->nperms; i++)
		CHECK(bounded(c->perms[i], sizeof(c->perms[i])) && c->perms[i][0] != '\0');
	CHECK(c->exp == 0 || FUZZ_NOW < c->exp + FUZZ_LEEWAY);
}

/* The outcome of one verification of token (NUL-terminated copy in str). */
static void
check_outcome(tt_err e, const tt_auth_claims *claims, const char *err, const char *token,
    size_t len, const char *str)
{
	if (e == TT_OK) {
		CHECK(genuinely_signed(token, len));
		check_claims(claims);
		return;
	}
	CHECK(e == TT_EAUTH || e == TT_EPARSE || e == TT_ETOOBIG);
	CHECK(claims->user_id[0] == 'U'); /* untouched on failure */
	CHECK(err[0] != '\0' && strchr(err, '\n') == NULL);
	CHECK(strstr(err, FUZZ_SECRET) == NULL);
	if (strlen(str) >= 16)
		CHECK(strstr(err, str) == NULL);
}

/* A string member of obj, or "" when absent or null. */
static const char *
member_str(const cJSON *obj, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	return cJSON_IsString(v) ? v->valuestring : "";
}

/* A verified self-signed token: the claims are the payload's, in force. */
static void
check_signed_claims(
    const uint8_t *hdr, size_t hn, const uint8_t *pl, size_t pn, const tt_auth_claims *c)
{
	cJSON *h = cJSON_ParseWithLength((const char *)hdr, hn);
	cJSON *p = cJSON_ParseWithLength((const char *)pl, pn);
	const cJSON *v;

	CHECK(cJSON_IsObject(h) && cJSON_IsObject(p));
	CHECK(strcmp(member_str(h, "alg"), "HS256") == 0);
	CHECK(cJSON_GetObjectItemCaseSensitive(h, "crit") == NULL);
	CHECK(strcmp(member_str(p, "userId"), c->user_id) == 0);
	CHECK(strcmp(member_str(p, "venueId"), c->venue_id) == 0);
	CHECK(strcmp(member_str(p, "role"), c->role) == 0);
	v = cJSON_GetObjectItemCaseSensitive(p, "exp");
	if (v != NULL) {
		CHECK(cJSON_IsNumber(v) && c->exp == (int64_t)floor(v->valuedouble));
		CHECK(FUZZ_NOW < c->exp + FUZZ_LEEWAY);
	} else {
		CHECK(c->exp == 0);
	}
	v = cJSON_GetObjectItemCaseSensitive(p, "nbf");
	if (v != NULL)
		CHECK(
		    cJSON_IsNumber(v) && FUZZ_NOW + FUZZ_LEEWAY >= (int64_t)floor(v->valuedouble));
	cJSON_Delete(h);
	cJSON_Delete(p);
}

/* "<header>\0<payload>" signed here with the secret, then verified. */
static void
fuzz_self_signed(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, '\0', size);
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	tt_auth_claims claims;
	char err[256];

	if (nul == NULL)
		return;
	size_t hn = (size_t)(nul - data), pn = size - hn - 1;
	char *token = malloc(4 * (size + EVP_MAX_MD_SIZE) / 3 + 16);
	if (token == NULL)
		return;
	size_t n = b64url_encode(data, hn, token);
	token[n++] = '.';
	n += b64url_encode(nul + 1, pn, token + n);
	if (HMAC(EVP_sha256(), FUZZ_SECRET, (int)strlen(FUZZ_SECRET), (const unsigned char *)token,
	        n, mac, &maclen) == NULL) {
		free(token);
		return;
	}
	token[n++] = '.';
	n += b64url_encode(mac, maclen, token + n);

	memset(&claims, 'U', sizeof(claims));
	err[0] = '\0';
	tt_err e = tt_auth_verify(verifier, token, n, FUZZ_NOW, &claims, err, sizeof(err));
	if (e == TT_OK) {
		CHECK(genuinely_signed(token, n));
		check_claims(&claims);
		check_signed_claims(data, hn, nul + 1, pn, &claims);
	} else {
		CHECK(e == TT_EAUTH || e == TT_EPARSE || e == TT_ETOOBIG);
		CHECK(claims.user_id[0] == 'U');
		CHECK(err[0] != '\0' && strchr(err, '\n') == NULL);
		CHECK(strstr(err, FUZZ_SECRET) == NULL);
	}
	free(token);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *token = malloc(size > 0 ? size : 1);
	char *header = malloc(size + sizeof("Bearer "));
	char *str = malloc(size + 1);
	tt_auth_claims claims;
	char err[256];
	tt_err e;

	if (token == NULL || header == NULL || str == NULL)
		goto out;
	if (size > 0)
		memcpy(token, data, size);
	memcpy(str, data, size);
	str[size] = '\0';

	memset(&claims, 'U', sizeof(claims));
	err[0] = '\0';
	e = tt_auth_verify(verifier, token, size, FUZZ_NOW, &claims, err, sizeof(err));
	check_outcome(e, &claims, err, token, size, str);

	/* Again: a token that verified is now served from the cache. */
	tt_err again;
	memset(&claims, 'U', sizeof(claims));
	err[0] = '\0';
	again = tt_auth_verify(verifier, token, size, FUZZ_NOW, &claims, err, sizeof(err));
	CHECK(again == e);
	check_outcome(again, &claims, err, token, size, str);

	/* As a header: C string, so the token stops at the first NUL. */
	memcpy(header, "Bearer ", 7);
	memcpy(header + 7, str, size + 1);
	memset(&claims, 'U', sizeof(claims));
	err[0] = '\0';
	e = tt_auth_verify_header(verifier, header, FUZZ_NOW, &claims, err, sizeof(err));
	if (e == TT_OK) {
		/* The header's token is str trimmed of blanks; it must be genuine. */
		size_t b = strspn(str, " \t"), n = strlen(str + b);
		while (n > 0 && (str[b + n - 1] == ' ' || str[b + n - 1] == '\t'))
			n--;
		CHECK(genuinely_signed(str + b, n));
		check_claims(&claims);
	} else {
		check_outcome(e, &claims, err, "", 0, str);
	}

	fuzz_self_signed(data, size);
out:
	free(token);
	free(header);
	free(str);
	return 0;
}
