/*
 * fuzz.h - what every libFuzzer target here shares (the src files named
 * <module>_fuzz.c, built with -DTT_FUZZ=ON; tests/fuzz/run.sh runs them).
 */
#ifndef TT_FUZZ_H
#define TT_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* An invariant: when it fails, say which and trap (libFuzzer keeps the input). */
#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(                                                                   \
			    stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond);   \
			__builtin_trap();                                                          \
		}                                                                                  \
	} while (0)

#endif
