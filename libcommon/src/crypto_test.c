/*
 * crypto_test.c - HMAC-SHA256 against the RFC 4231 test vectors and values
 * computed with the openssl command line, constant-time comparison, and the
 * shape of random hex.
 *
 * The openssl-computed expectations came from commands of the form
 *     printf %s MSG | openssl dgst -sha256 -hmac KEY
 *     printf %s MSG | openssl dgst -sha256 -mac HMAC -macopt hexkey:HEX
 * and are pasted with the command next to each.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "tt/crypto.h"

static void
assert_hmac(const void *key, size_t keylen, const void *msg, size_t msglen,
    const char *want)
{
	char out[TT_HMAC_HEX_LEN + 1];
	memset(out, 'Z', sizeof(out));
	assert_int_equal(tt_hmac_sha256_hex(key, keylen, msg, msglen, out), TT_OK);
	assert_int_equal(strlen(out), TT_HMAC_HEX_LEN);
	assert_string_equal(out, want);
}

/* ---- RFC 4231, section 4 ------------------------------------------- */

static void
test_hmac_rfc4231_case1(void **state)
{
	(void)state;
	unsigned char key[20];
	memset(key, 0x0b, sizeof(key));
	assert_hmac(key, sizeof(key), "Hi There", 8,
	    "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
}

static void
test_hmac_rfc4231_case2_key_shorter_than_block(void **state)
{
	(void)state;
	const char *msg = "what do ya want for nothing?";
	assert_hmac("Jefe", 4, msg, strlen(msg),
	    "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

static void
test_hmac_rfc4231_case3_binary_data(void **state)
{
	(void)state;
	unsigned char key[20], msg[50];
	memset(key, 0xaa, sizeof(key));
	memset(msg, 0xdd, sizeof(msg));
	assert_hmac(key, sizeof(key), msg, sizeof(msg),
	    "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe");
}

static void
test_hmac_rfc4231_case4_counting_key(void **state)
{
	(void)state;
	unsigned char key[25], msg[50];
	for (size_t i = 0; i < sizeof(key); i++)
		key[i] = (unsigned char)(i + 1);   /* 0x01 .. 0x19 */
	memset(msg, 0xcd, sizeof(msg));
	assert_hmac(key, sizeof(key), msg, sizeof(msg),
	    "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b");
}

static void
test_hmac_rfc4231_case6_key_longer_than_block(void **state)
{
	(void)state;
	unsigned char key[131];
	const char *msg = "Test Using Larger Than Block-Size Key - Hash Key First";
	memset(key, 0xaa, sizeof(key));
	assert_hmac(key, sizeof(key), msg, strlen(msg),
	    "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

static void
test_hmac_rfc4231_case7_key_and_data_longer_than_block(void **state)
{
	(void)state;
	unsigned char key[131];
	const char *msg = "This is a test using a larger than block-size key and a larger "
	    "than block-size data. The key needs to be hashed before being used by the "
	    "HMAC algorithm.";
	memset(key, 0xaa, sizeof(key));
	assert_hmac(key, sizeof(key), msg, strlen(msg),
	    "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2");
}

/* ---- openssl-computed ------------------------------------------------- */

static void
test_hmac_customer_id_as_ingest_hashes_it(void **state)
{
	(void)state;
	/* printf %s user-42 | openssl dgst -sha256 -hmac unit-test-hash-key */
	const char *key = "unit-test-hash-key";
	assert_hmac(key, strlen(key), "user-42", 7,
	    "f4f785dd3372dc740db324431fa215e7d02e11121a2a2825ace08594b05e1149");
}

static void
test_hmac_quick_brown_fox(void **state)
{
	(void)state;
	/* printf %s 'The quick brown fox jumps over the lazy dog' | openssl dgst -sha256 -hmac key */
	const char *msg = "The quick brown fox jumps over the lazy dog";
	assert_hmac("key", 3, msg, strlen(msg),
	    "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8");
}

static void
test_hmac_empty_message(void **state)
{
	(void)state;
	/* printf '' | openssl dgst -sha256 -hmac secret */
	assert_hmac("secret", 6, "", 0,
	    "f9e66e179b6747ae54108f82f8ade8b3c25d76fd30afde6c395822c530196169");
}

static void
test_hmac_empty_key(void **state)
{
	(void)state;
	/* printf %s msg | openssl dgst -sha256 -hmac ''  (same as python3 hmac.new(b'', b'msg')) */
	assert_hmac("", 0, "msg", 3,
	    "5f576a8d68fe4fb7eb823227246353c0870c3b0e878997341db1226b4bd88d61");
}

static void
test_hmac_message_with_nul_byte(void **state)
{
	(void)state;
	/* printf 'a\0b' | openssl dgst -sha256 -hmac key */
	assert_hmac("key", 3, "a\0b", 3,
	    "29c5f0eea2d0a51b661193b3a56191192b2861f543ea0499a7f9725f7e7062fc");
}

static void
test_hmac_key_with_nul_byte_uses_its_length(void **state)
{
	(void)state;
	/* printf %s msg | openssl dgst -sha256 -mac HMAC -macopt hexkey:6b007a */
	assert_hmac("k\0z", 3, "msg", 3,
	    "f57757d442fa962700befa5741faf5b2803f859a0bb96ea2e25dfc767e8d6039");
}

static void
test_hmac_long_message(void **state)
{
	(void)state;
	/* head -c 1000 /dev/zero | tr '\0' x | openssl dgst -sha256 -hmac unit-test-hash-key */
	char msg[1000];
	const char *key = "unit-test-hash-key";
	memset(msg, 'x', sizeof(msg));
	assert_hmac(key, strlen(key), msg, sizeof(msg),
	    "1c6d4080040b665309aaf5d7663bd2a8c05f3f9c784420cc9b0222fa6bcd93a8");
}

static void
test_hmac_output_is_lowercase_hex(void **state)
{
	(void)state;
	char out[TT_HMAC_HEX_LEN + 1];
	assert_int_equal(tt_hmac_sha256_hex("k", 1, "m", 1, out), TT_OK);
	for (size_t i = 0; i < TT_HMAC_HEX_LEN; i++)
		assert_non_null(strchr("0123456789abcdef", out[i]));
	assert_int_equal(out[TT_HMAC_HEX_LEN], '\0');
}

/* ---- tt_ct_equal ------------------------------------------------------ */

static void
test_ct_equal_on_equal_buffers(void **state)
{
	(void)state;
	assert_int_equal(tt_ct_equal("abcdef", "abcdef", 6), 1);
}

static void
test_ct_equal_on_last_byte_difference(void **state)
{
	(void)state;
	assert_int_equal(tt_ct_equal("abcdef", "abcdeg", 6), 0);
}

static void
test_ct_equal_on_first_byte_difference(void **state)
{
	(void)state;
	assert_int_equal(tt_ct_equal("xbcdef", "abcdef", 6), 0);
}

static void
test_ct_equal_compares_only_n_bytes(void **state)
{
	(void)state;
	assert_int_equal(tt_ct_equal("abcX", "abcY", 3), 1);
	assert_int_equal(tt_ct_equal("a", "b", 0), 1);
}

/* ---- tt_random_hex ---------------------------------------------------- */

static void
test_random_hex_has_2n_lowercase_hex_chars(void **state)
{
	(void)state;
	char out[33];
	memset(out, 'Z', sizeof(out));
	assert_int_equal(tt_random_hex(out, 16), TT_OK);
	assert_int_equal(strlen(out), 32);
	for (size_t i = 0; i < 32; i++)
		assert_non_null(strchr("0123456789abcdef", out[i]));
}

static void
test_random_hex_differs_between_calls(void **state)
{
	(void)state;
	char a[33], b[33];
	assert_int_equal(tt_random_hex(a, 16), TT_OK);
	assert_int_equal(tt_random_hex(b, 16), TT_OK);
	/* Two equal 128-bit draws would mean a broken generator. */
	assert_string_not_equal(a, b);
}

static void
test_random_hex_accepts_64_bytes(void **state)
{
	(void)state;
	char out[129];
	assert_int_equal(tt_random_hex(out, 64), TT_OK);
	assert_int_equal(strlen(out), 128);
}

static void
test_random_hex_rejects_more_than_64_bytes(void **state)
{
	(void)state;
	char out[200];
	memset(out, 'Z', sizeof(out));
	assert_int_equal(tt_random_hex(out, 65), TT_EINVAL);
	assert_int_equal(out[0], 'Z');
}

static void
test_random_hex_of_zero_bytes_is_empty(void **state)
{
	(void)state;
	char out[1] = { 'Z' };
	assert_int_equal(tt_random_hex(out, 0), TT_OK);
	assert_int_equal(out[0], '\0');
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hmac_rfc4231_case1),
		cmocka_unit_test(test_hmac_rfc4231_case2_key_shorter_than_block),
		cmocka_unit_test(test_hmac_rfc4231_case3_binary_data),
		cmocka_unit_test(test_hmac_rfc4231_case4_counting_key),
		cmocka_unit_test(test_hmac_rfc4231_case6_key_longer_than_block),
		cmocka_unit_test(test_hmac_rfc4231_case7_key_and_data_longer_than_block),
		cmocka_unit_test(test_hmac_customer_id_as_ingest_hashes_it),
		cmocka_unit_test(test_hmac_quick_brown_fox),
		cmocka_unit_test(test_hmac_empty_message),
		cmocka_unit_test(test_hmac_empty_key),
		cmocka_unit_test(test_hmac_message_with_nul_byte),
		cmocka_unit_test(test_hmac_key_with_nul_byte_uses_its_length),
		cmocka_unit_test(test_hmac_long_message),
		cmocka_unit_test(test_hmac_output_is_lowercase_hex),
		cmocka_unit_test(test_ct_equal_on_equal_buffers),
		cmocka_unit_test(test_ct_equal_on_last_byte_difference),
		cmocka_unit_test(test_ct_equal_on_first_byte_difference),
		cmocka_unit_test(test_ct_equal_compares_only_n_bytes),
		cmocka_unit_test(test_random_hex_has_2n_lowercase_hex_chars),
		cmocka_unit_test(test_random_hex_differs_between_calls),
		cmocka_unit_test(test_random_hex_accepts_64_bytes),
		cmocka_unit_test(test_random_hex_rejects_more_than_64_bytes),
		cmocka_unit_test(test_random_hex_of_zero_bytes_is_empty),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
