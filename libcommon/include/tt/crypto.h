/*
 * tt/crypto.h - the few primitives the services need, over OpenSSL.
 */
#ifndef TT_CRYPTO_H
#define TT_CRYPTO_H

#include <stddef.h>

#include "tt/error.h"

#define TT_HMAC_HEX_LEN 64   /* hex of a SHA-256 MAC, without NUL */

/* HMAC-SHA256(key, msg) as 64 lowercase hex characters + NUL into out. */
tt_err tt_hmac_sha256_hex(const void *key, size_t keylen, const void *msg,
    size_t msglen, char out[TT_HMAC_HEX_LEN + 1]);

/* Constant-time comparison of two equal-length buffers; 1 when equal. */
int tt_ct_equal(const void *a, const void *b, size_t n);

/* n random bytes from the OS CSPRNG rendered as 2n hex chars + NUL. */
tt_err tt_random_hex(char *out, size_t n);

#endif
