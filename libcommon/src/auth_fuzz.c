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
 * signature; the seed corpus has genuine tokens, so their mutations reach
 * the claim checks. Also checked: claims are filled on success only and
 * hold their bounds; the detail is one line and never contains the secret
 * or the token. Leaks are libFuzzer's -detect_leaks.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "tt/auth.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_SECRET "fuzz-secret-0123456789"
/* date -u -d '2023-11-14T22:13:20Z' +%s */
#define FUZZ_NOW    INT64_C(1700000000)

/* An invariant: when it fails, say which (libFuzzer keeps the input). */
#define CHECK(cond)                                                          \
	do {                                                                 \
		if (!(cond)) {                                               \
			fprintf(stderr, "%s:%d: invariant failed: %s\n",     \
			    __FILE__, __LINE__, #cond);                      \
			__builtin_trap();                                    \
		}                                                            \
	} while (0)

static tt_auth *verifier;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (tt_auth_new(&verifier, FUZZ_SECRET, 30) != TT_OK)
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
	const char *dot2 = dot1 != NULL ? memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - token)) : NULL;
	unsigned char want[EVP_MAX_MD_SIZE], got[64];
	unsigned int wantlen = 0;

	if (dot2 == NULL)
		return false;
	size_t signed_len = (size_t)(dot2 - token);
	long gotlen = b64url_decode(dot2 + 1, len - signed_len - 1, got, sizeof(got));
	if (HMAC(EVP_sha256(), FUZZ_SECRET, (int)strlen(FUZZ_SECRET),
	    (const unsigned char *)token, signed_len, want, &wantlen) == NULL)
		return false;
	return gotlen == (long)wantlen && memcmp(got, want, wantlen) == 0;
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
	CHECK(c->exp == 0 || FUZZ_NOW < c->exp + 30);
}

/* The outcome of one verification of token (NUL-terminated copy in str). */
static void
check_outcome(tt_err e, const tt_auth_claims *claims, const char *err,
    const char *token, size_t len, const char *str)
{
	if (e == TT_OK) {
		CHECK(genuinely_signed(token, len));
		check_claims(claims);
		return;
	}
	CHECK(e == TT_EAUTH || e == TT_EPARSE || e == TT_ETOOBIG);
	CHECK(claims->user_id[0] == 'U');  /* untouched on failure */
	CHECK(err[0] != '\0' && strchr(err, '\n') == NULL);
	CHECK(strstr(err, FUZZ_SECRET) == NULL);
	if (strlen(str) >= 16)
		CHECK(strstr(err, str) == NULL);
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
out:
	free(token);
	free(header);
	free(str);
	return 0;
}
