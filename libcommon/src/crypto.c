/* crypto.c - HMAC and randomness through OpenSSL's one-shot APIs. */
#include "tt/crypto.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

static void
hex_encode(const unsigned char *in, size_t n, char *out)
{
	static const char hex[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hex[in[i] >> 4];
		out[2 * i + 1] = hex[in[i] & 15];
	}
	out[2 * n] = '\0';
}

tt_err
tt_hmac_sha256_hex(const void *key, size_t keylen, const void *msg,
    size_t msglen, char out[TT_HMAC_HEX_LEN + 1])
{
	unsigned char mac[32];
	unsigned int maclen = 0;

	if (keylen > 0x7fffffff)
		return TT_EINVAL;
	if (HMAC(EVP_sha256(), key, (int)keylen, msg, msglen, mac, &maclen) == NULL ||
	    maclen != sizeof(mac))
		return TT_EIO;
	hex_encode(mac, sizeof(mac), out);
	return TT_OK;
}

int
tt_ct_equal(const void *a, const void *b, size_t n)
{
	return CRYPTO_memcmp(a, b, n) == 0;
}

tt_err
tt_random_hex(char *out, size_t n)
{
	unsigned char buf[64];

	if (n > sizeof(buf))
		return TT_EINVAL;
	if (RAND_bytes(buf, (int)n) != 1)
		return TT_EIO;
	hex_encode(buf, n, out);
	return TT_OK;
}
