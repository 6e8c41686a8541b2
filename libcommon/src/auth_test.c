/*
 * auth_test.c - JWT verification against tokens minted with libjwt, and
 * the venue/permission rules. Every refusal asserts the exact tt_err and
 * the detail that says why.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jwt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tt/auth.h"
#include "tt/strbuf.h"

#define SECRET "unit-test-secret"
#define NOW    INT64_C(1700000000)

static tt_auth *auth;    /* leeway 0 */
static tt_auth *lenient; /* leeway 30 */

static int
setup(void **state)
{
	(void)state;
	if (tt_auth_new(&auth, SECRET, 0) != TT_OK || tt_auth_new(&lenient, SECRET, 30) != TT_OK)
		return -1;
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	tt_auth_free(auth);
	tt_auth_free(lenient);
	return 0;
}

/* Mints a token with libjwt: claims as JSON, alg and key as given. */
static char *
mint(jwt_alg_t alg, const char *key, const char *claims_json)
{
	jwt_t *j = NULL;
	char *tok;

	assert_int_equal(jwt_new(&j), 0);
	assert_int_equal(jwt_add_grants_json(j, claims_json), 0);
	assert_int_equal(jwt_set_alg(j, alg, (const unsigned char *)key,
	    key ? (int)strlen(key) : 0), 0);
	tok = jwt_encode_str(j);
	assert_non_null(tok);
	jwt_free(j);
	return tok;
}

static char *
mint_hs256(const char *claims_json)
{
	return mint(JWT_ALG_HS256, SECRET, claims_json);
}

/* base64url without padding, for hand-made tokens. */
static void
b64url(tt_strbuf *b, const char *s)
{
	static const char tbl[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	size_t n = strlen(s), i;
	const unsigned char *u = (const unsigned char *)s;

	for (i = 0; i + 2 < n; i += 3) {
		tt_strbuf_putc(b, tbl[u[i] >> 2]);
		tt_strbuf_putc(b, tbl[((u[i] & 3) << 4) | (u[i + 1] >> 4)]);
		tt_strbuf_putc(b, tbl[((u[i + 1] & 15) << 2) | (u[i + 2] >> 6)]);
		tt_strbuf_putc(b, tbl[u[i + 2] & 63]);
	}
	if (n - i == 1) {
		tt_strbuf_putc(b, tbl[u[i] >> 2]);
		tt_strbuf_putc(b, tbl[(u[i] & 3) << 4]);
	} else if (n - i == 2) {
		tt_strbuf_putc(b, tbl[u[i] >> 2]);
		tt_strbuf_putc(b, tbl[((u[i] & 3) << 4) | (u[i + 1] >> 4)]);
		tt_strbuf_putc(b, tbl[(u[i + 1] & 15) << 2]);
	}
}

static char *
handmade(const char *header, const char *payload, const char *sig)
{
	tt_strbuf b;

	tt_strbuf_init(&b, 1 << 16);
	b64url(&b, header);
	tt_strbuf_putc(&b, '.');
	b64url(&b, payload);
	tt_strbuf_putc(&b, '.');
	tt_strbuf_puts(&b, sig);
	return tt_strbuf_take(&b);
}

static tt_err
verify(const tt_auth *a, const char *tok, int64_t now, tt_auth_claims *c, char *err)
{
	err[0] = '\0';
	return tt_auth_verify(a, tok, strlen(tok), now, c, err, 128);
}

static void
test_valid_venue_token_yields_claims(void **state)
{
	(void)state;
	char err[128];
	tt_auth_claims c;
	char *tok = mint_hs256("{\"userId\":\"u-1\",\"venueId\":\"venue-1\",\"role\":\"user\","
	    "\"permissions\":[\"analytics.read\",\"analytics.write\"],\"iat\":1699990000,"
	    "\"exp\":1700003600}");

	assert_int_equal(verify(auth, tok, NOW, &c, err), TT_OK);
	assert_string_equal(c.user_id, "u-1");
	assert_string_equal(c.venue_id, "venue-1");
	assert_string_equal(c.role, "user");
	assert_false(c.admin);
	assert_int_equal(c.nperms, 2);
	assert_string_equal(c.perms[1], "analytics.write");
	assert_int_equal(c.exp, 1700003600);
	/* Again: the cached path gives the same claims. */
	memset(&c, 0, sizeof(c));
	assert_int_equal(verify(auth, tok, NOW, &c, err), TT_OK);
	assert_string_equal(c.venue_id, "venue-1");
	free(tok);
}

static void
test_admin_token_without_venue_is_valid(void **state)
{
	(void)state;
	char err[128];
	tt_auth_claims c;
	char *tok = mint_hs256("{\"userId\":\"root\",\"venueId\":null,\"role\":\"admin\","
	    "\"permissions\":[\"*\"]}");

	assert_int_equal(verify(auth, tok, NOW, &c, err), TT_OK);
	assert_true(c.admin);
	assert_string_equal(c.venue_id, "");
	assert_int_equal(c.exp, 0);
	free(tok);
}

static void
test_alg_none_is_refused(void **state)
{
	(void)state;
	char err[128];
	tt_auth_claims c;
	char *tok = mint(JWT_ALG_NONE, NULL, "{\"userId\":\"u\",\"venueId\":\"v\"}");

	assert_int_equal(verify(auth, tok, NOW, &c, err), TT_EAUTH);
	assert_string_equal(err, "unsupported algorithm");
	free(tok);
	/* Same with a made-up signature appended. */
	tok = handmade("{\"alg\":\"none\",\"typ\":\"JWT\"}", "{\"userId\":\"u\"}", "c2ln");
	assert_int_equal(verify(auth, tok, NOW, &c, err), TT_EAUTH);
	assert_string_equal(err, "unsupported algorithm");
	free(tok);
	/* Case games do not help. */
	tok = handmade("{\"alg\":\"hs256\"}", "{\"userId\":\"u\"}", "c2ln");
	assert_int_equal(verify(auth, tok, NOW, &c, err), TT_EAUTH);
	assert_string_equal(err, "unsupported algorithm");
	free(tok);
}

static void
test_other_algorithms_are_refused(void **state)
{
	(void)state;
	char err[128];
	tt_auth_claims c;
	char *tok = mint(JWT_ALG_HS512, SECRET, "{\"userId\":\"u\",\"venueId\":\"v\"}");

	assert_int_equal(verify(auth, tok, NOW, &c, err), TT_EAUTH);
	assert_string_equal(err, "unsupported algorithm");
	free(tok);
	tok = mint(JWT_ALG_HS384, SECRET, "{\"userId\":\"u\"}");
	assert_int_equal(verify(auth, tok, NOW, &c, err), TT_EAUTH);
	assert_string_equal(err, "unsupported algorithm");
	free(tok);
	tok = handmade("{\"alg\":\"RS256\",\"typ\":\"JWT\"}", "{\"userId\":\"u\"}", "c2lnbmF0dXJl");
	assert_int_equal(verify(auth, tok, NOW, &c, err), TT_EAUTH);
	assert_string_equal(err, "unsupported algorithm");
	free(tok);
	tok = handmade("{\"typ\":\"JWT\"}", "{\"userId\":\"u\"}", "c2lnbmF0dXJl");
	assert_int_equal(verify(auth, tok, NOW, &c, err), TT_EAUTH);
	assert_string_equal(err, "unsupported algorithm");
	free(tok);
	tok = handmade("{\"alg\":\"HS256\",\"crit\":[\"b64\"]}", "{\"userId\":\"u\"}", "c2ln");
	assert_int_equal(verify(auth, tok, NOW, &c, err), TT_EAUTH);
	assert_string_equal(err, "unsupported critical header");
	free(tok);
}

static void
test_wrong_key_and_tampering_fail_the_signature(void **state)
{
	(void)state;
	char err[128];
	tt_auth_claims c;
	char *tok = mint(JWT_ALG_HS256, "another-secret", "{\"userId\":\"u\",\"venueId\":\"v\"}");

	assert_int_equal(verify(auth, tok, NOW, &c, err), TT_EAUTH);
	assert_string_equal(err, "invalid signature");
	free(tok);

	/* A venue token whose payload is swapped for an admin one. */
	char *good = mint_hs256("{\"userId\":\"u\",\"venueId\":\"v\"}");
	char *evil = handmade("{\"alg\":\"HS256\",\"typ\":\"JWT\"}",
	    "{\"userId\":\"u\",\"role\":\"admin\"}", strrchr(good, '.') + 1);
	assert_int_equal(verify(auth, evil, NOW, &c, err), TT_EAUTH);
	assert_string_equal(err, "invalid signature");
	free(evil);

	/* Signature stripped. */
	*(strrchr(good, '.') + 1) = '\0';
	assert_int_equal(verify(auth, good, NOW, &c, err), TT_EAUTH);
	assert_string_equal(err, "invalid signature");
	free(good);
}

static void
test_expiry_with_and_without_leeway(void **state)
{
	(void)state;
	char err[128];
	tt_auth_claims c;
	char claims[128];

	snprintf(claims, sizeof(claims), "{\"userId\":\"u\",\"exp\":%lld}", (long long)NOW);
	char *at_now = mint_hs256(claims);
	snprintf(claims, sizeof(claims), "{\"userId\":\"u\",\"exp\":%lld}", (long long)NOW - 10);
	char *ten_ago = mint_hs256(claims);
	snprintf(claims, sizeof(claims), "{\"userId\":\"u\",\"exp\":%lld}", (long long)NOW - 3600);
	char *hour_ago = mint_hs256(claims);

	assert_int_equal(verify(auth, at_now, NOW - 1, &c, err), TT_OK);
	assert_int_equal(verify(auth, at_now, NOW, &c, err), TT_EAUTH);   /* exp <= now */
	assert_string_equal(err, "token expired");
	assert_int_equal(verify(auth, ten_ago, NOW, &c, err), TT_EAUTH);
	assert_string_equal(err, "token expired");
	assert_int_equal(verify(lenient, ten_ago, NOW, &c, err), TT_OK);  /* within 30 s */
	assert_int_equal(verify(lenient, hour_ago, NOW, &c, err), TT_EAUTH);
	assert_string_equal(err, "token expired");
	/* The cache never outlives exp: verified once, then time passes. */
	assert_int_equal(verify(lenient, ten_ago, NOW + 25, &c, err), TT_EAUTH);
	assert_string_equal(err, "token expired");
	free(at_now);
	free(ten_ago);
	free(hour_ago);
}

static void
test_not_before_is_honoured(void **state)
{
	(void)state;
	char err[128];
	tt_auth_claims c;
	char claims[128];

	snprintf(claims, sizeof(claims), "{\"userId\":\"u\",\"nbf\":%lld}", (long long)NOW + 60);
	char *tok = mint_hs256(claims);
	assert_int_equal(verify(auth, tok, NOW, &c, err), TT_EAUTH);
	assert_string_equal(err, "token not yet valid");
	assert_int_equal(verify(lenient, tok, NOW + 31, &c, err), TT_OK);
	assert_int_equal(verify(auth, tok, NOW + 60, &c, err), TT_OK);
	free(tok);
}

static void
test_garbage_is_malformed(void **state)
{
	(void)state;
	char err[128];
	tt_auth_claims c;
	static const char *const bad[] = {
		"garbage",
		"a.b",
		"a.b.c.d",
		"..sig",
		"e30..sig",
		"!!!.e30.sig",
		"e30.e30.sig",                       /* header {} has no alg: see below */
	};

	for (size_t i = 0; i < 6; i++) {
		assert_int_equal(verify(auth, bad[i], NOW, &c, err), TT_EPARSE);
		assert_memory_equal(err, "malformed token", 15);
	}
	assert_int_equal(verify(auth, bad[6], NOW, &c, err), TT_EAUTH);
	assert_string_equal(err, "unsupported algorithm");
	/* Header that is base64url of something that is not JSON. */
	char *tok = handmade("not json", "{}", "c2ln");
	assert_int_equal(verify(auth, tok, NOW, &c, err), TT_EPARSE);
	assert_string_equal(err, "malformed token: header is not a JSON object");
	free(tok);
	tok = handmade("{\"alg\":\"HS256\"}", "not json", "c2ln");
	assert_int_equal(verify(auth, tok, NOW, &c, err), TT_EPARSE);
	assert_string_equal(err, "malformed token: payload is not JSON");
	free(tok);
	/* Empty and oversized. */
	assert_int_equal(tt_auth_verify(auth, "", 0, NOW, &c, err, sizeof(err)), TT_EAUTH);
	assert_string_equal(err, "missing token");
	size_t big = TT_AUTH_TOKEN_MAX + 1;
	char *huge = malloc(big);
	memset(huge, 'a', big);
	assert_int_equal(tt_auth_verify(auth, huge, big, NOW, &c, err, sizeof(err)), TT_ETOOBIG);
	free(huge);
}

static void
test_claims_of_the_wrong_shape_are_refused(void **state)
{
	(void)state;
	static const struct { const char *claims, *why; } cases[] = {
		{ "{\"venueId\":\"v\"}", "invalid claims: userId" },
		{ "{\"userId\":42}", "invalid claims: userId" },
		{ "{\"userId\":\"\"}", "invalid claims: userId" },
		{ "{\"userId\":\"u\",\"venueId\":\"bad venue\"}", "invalid claims: venueId" },
		{ "{\"userId\":\"u\",\"venueId\":7}", "invalid claims: venueId" },
		{ "{\"userId\":\"u\",\"role\":[\"admin\"]}", "invalid claims: role" },
		{ "{\"userId\":\"u\",\"permissions\":\"analytics.read\"}", "invalid claims: permissions" },
		{ "{\"userId\":\"u\",\"permissions\":[1]}", "invalid claims: permissions" },
		{ "{\"userId\":\"u\",\"exp\":\"tomorrow\"}", "invalid claims: exp" },
		{ "{\"userId\":\"u\",\"nbf\":-5}", "invalid claims: nbf" },
	};
	char err[128];
	tt_auth_claims c;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *tok = mint_hs256(cases[i].claims);
		assert_int_equal(verify(auth, tok, NOW, &c, err), TT_EAUTH);
		assert_string_equal(err, cases[i].why);
		free(tok);
	}

	/* Too many permissions. */
	tt_strbuf b;
	tt_strbuf_init(&b, 1 << 16);
	tt_strbuf_puts(&b, "{\"userId\":\"u\",\"permissions\":[");
	for (int i = 0; i < TT_AUTH_PERMS_MAX + 1; i++)
		tt_strbuf_printf(&b, "%s\"p%d\"", i ? "," : "", i);
	tt_strbuf_puts(&b, "]}");
	char *tok = mint_hs256(tt_strbuf_str(&b));
	assert_int_equal(verify(auth, tok, NOW, &c, err), TT_EAUTH);
	assert_string_equal(err, "invalid claims: permissions");
	free(tok);
	tt_strbuf_fini(&b);
}

static void
test_bearer_header_parsing(void **state)
{
	(void)state;
	char err[128], hdr[1024];
	tt_auth_claims c;
	char *tok = mint_hs256("{\"userId\":\"u\",\"venueId\":\"v\"}");

	snprintf(hdr, sizeof(hdr), "Bearer %s", tok);
	assert_int_equal(tt_auth_verify_header(auth, hdr, NOW, &c, err, sizeof(err)), TT_OK);
	snprintf(hdr, sizeof(hdr), "bearer   %s  ", tok);
	assert_int_equal(tt_auth_verify_header(auth, hdr, NOW, &c, err, sizeof(err)), TT_OK);
	snprintf(hdr, sizeof(hdr), "Basic %s", tok);
	assert_int_equal(tt_auth_verify_header(auth, hdr, NOW, &c, err, sizeof(err)), TT_EAUTH);
	assert_string_equal(err, "missing bearer token");
	snprintf(hdr, sizeof(hdr), "Bearer%s", tok);
	assert_int_equal(tt_auth_verify_header(auth, hdr, NOW, &c, err, sizeof(err)), TT_EAUTH);
	assert_int_equal(tt_auth_verify_header(auth, "Bearer   ", NOW, &c, err, sizeof(err)), TT_EAUTH);
	assert_string_equal(err, "missing bearer token");
	assert_int_equal(tt_auth_verify_header(auth, NULL, NOW, &c, err, sizeof(err)), TT_EAUTH);
	free(tok);
}

static void
test_verifier_arguments_are_checked(void **state)
{
	(void)state;
	tt_auth *a = NULL;

	assert_int_equal(tt_auth_new(&a, "", 0), TT_EINVAL);
	assert_int_equal(tt_auth_new(&a, "k", -1), TT_EINVAL);
	assert_int_equal(tt_auth_new(&a, "k", 301), TT_EINVAL);
	assert_null(a);
	/* Another secret: a token cached by the first verifier is not reused. */
	char err[128];
	tt_auth_claims c;
	char *tok = mint_hs256("{\"userId\":\"u\"}");
	assert_int_equal(verify(auth, tok, NOW, &c, err), TT_OK);
	assert_int_equal(tt_auth_new(&a, "other", 0), TT_OK);
	assert_int_equal(verify(a, tok, NOW, &c, err), TT_EAUTH);
	assert_string_equal(err, "invalid signature");
	tt_auth_free(a);
	free(tok);
}

static tt_auth_claims
claims_of(const char *venue, const char *role)
{
	tt_auth_claims c;

	memset(&c, 0, sizeof(c));
	snprintf(c.user_id, sizeof(c.user_id), "u");
	snprintf(c.venue_id, sizeof(c.venue_id), "%s", venue);
	snprintf(c.role, sizeof(c.role), "%s", role);
	c.admin = strcmp(role, "admin") == 0;
	return c;
}

static void
test_venue_scoping(void **state)
{
	(void)state;
	tt_auth_claims user = claims_of("venue-1", "user");
	tt_auth_claims orphan = claims_of("", "user");
	tt_auth_claims admin = claims_of("", "admin");
	tt_auth_claims admin_v = claims_of("venue-9", "admin");
	char out[TT_AUTH_VENUE_MAX], err[128];

	assert_true(tt_auth_venue_allowed(&user, "venue-1"));
	assert_false(tt_auth_venue_allowed(&user, "venue-2"));
	assert_false(tt_auth_venue_allowed(&orphan, ""));
	assert_true(tt_auth_venue_allowed(&admin, "venue-2"));

	assert_int_equal(tt_auth_resolve_venue(&user, NULL, out, err, sizeof(err)), TT_OK);
	assert_string_equal(out, "venue-1");
	assert_int_equal(tt_auth_resolve_venue(&user, "", out, err, sizeof(err)), TT_OK);
	assert_string_equal(out, "venue-1");
	assert_int_equal(tt_auth_resolve_venue(&user, "venue-1", out, err, sizeof(err)), TT_OK);
	assert_int_equal(tt_auth_resolve_venue(&user, "venue-2", out, err, sizeof(err)), TT_EFORBIDDEN);
	assert_string_equal(err, "no access to this venue");
	assert_int_equal(tt_auth_resolve_venue(&orphan, NULL, out, err, sizeof(err)), TT_EFORBIDDEN);
	assert_string_equal(err, "token has no venue");

	assert_int_equal(tt_auth_resolve_venue(&admin, "venue-2", out, err, sizeof(err)), TT_OK);
	assert_string_equal(out, "venue-2");
	assert_int_equal(tt_auth_resolve_venue(&admin, NULL, out, err, sizeof(err)), TT_EINVAL);
	assert_string_equal(err, "venueId is required");
	assert_int_equal(tt_auth_resolve_venue(&admin_v, NULL, out, err, sizeof(err)), TT_OK);
	assert_string_equal(out, "venue-9");
	assert_int_equal(tt_auth_resolve_venue(&admin, "bad venue!", out, err, sizeof(err)), TT_EINVAL);
	assert_int_equal(tt_auth_resolve_venue(&user, "bad venue!", out, err, sizeof(err)), TT_EINVAL);
}

static void
test_venue_id_rule(void **state)
{
	(void)state;
	assert_true(tt_auth_venue_id_valid("venue-1", 7));
	assert_true(tt_auth_venue_id_valid("a.b_c:d-E9", 10));
	assert_false(tt_auth_venue_id_valid("", 0));
	assert_false(tt_auth_venue_id_valid("a b", 3));
	assert_false(tt_auth_venue_id_valid("a/b", 3));
	char v65[66];
	memset(v65, 'v', 65);
	v65[65] = '\0';
	assert_true(tt_auth_venue_id_valid(v65, 64));
	assert_false(tt_auth_venue_id_valid(v65, 65));
}

static void
test_permissions(void **state)
{
	(void)state;
	tt_auth_claims user = claims_of("venue-1", "user");
	tt_auth_claims admin = claims_of("", "admin");
	tt_auth_claims star = claims_of("venue-1", "user");

	snprintf(user.perms[0], sizeof(user.perms[0]), "analytics.read");
	user.nperms = 1;
	snprintf(star.perms[0], sizeof(star.perms[0]), "*");
	star.nperms = 1;
	assert_true(tt_auth_has_permission(&user, "analytics.read"));
	assert_false(tt_auth_has_permission(&user, "analytics.write"));
	assert_false(tt_auth_has_permission(&user, "analytics"));
	assert_true(tt_auth_has_permission(&admin, "anything"));
	assert_true(tt_auth_has_permission(&star, "analytics.write"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_venue_token_yields_claims),
		cmocka_unit_test(test_admin_token_without_venue_is_valid),
		cmocka_unit_test(test_alg_none_is_refused),
		cmocka_unit_test(test_other_algorithms_are_refused),
		cmocka_unit_test(test_wrong_key_and_tampering_fail_the_signature),
		cmocka_unit_test(test_expiry_with_and_without_leeway),
		cmocka_unit_test(test_not_before_is_honoured),
		cmocka_unit_test(test_garbage_is_malformed),
		cmocka_unit_test(test_claims_of_the_wrong_shape_are_refused),
		cmocka_unit_test(test_bearer_header_parsing),
		cmocka_unit_test(test_verifier_arguments_are_checked),
		cmocka_unit_test(test_venue_scoping),
		cmocka_unit_test(test_venue_id_rule),
		cmocka_unit_test(test_permissions),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
