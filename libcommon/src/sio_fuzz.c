/*
 * sio_fuzz.c - libFuzzer target for tt/sio.h: the Engine.IO polling payload
 * iterator and the Socket.IO packet parser.
 *
 * The input is a polling payload. tt_eio_next() walks it from an exact-size
 * heap copy; the packets must be the consecutive pieces between the 0x1e
 * separators (one more than there are separators), none holding a
 * separator. Each packet, and for an Engine.IO message ('4') the Socket.IO
 * packet after the '4', is copied into an exact-size heap block (a read
 * past the packet is a heap overflow under ASan) and given to
 * tt_sio_parse(). When it accepts:
 *   - the type is CONNECT, DISCONNECT, EVENT or ACK, the first character;
 *   - nsp points into the packet (right after the type) or is "/", is 1..256
 *     bytes, starts with '/', holds no NUL and no ',';
 *   - an ack id is at most 15 digits' worth;
 *   - the JSON has the shape of the type; an EVENT's event is the string of
 *     the array's first item;
 *   - the packet encoded again (type, namespace unless "/", ack id, cJSON's
 *     printing of the payload) parses to the same type, namespace, ack id
 *     and event name;
 *   - tt_sio_packet_fini() frees the JSON (libFuzzer's leak check) and may
 *     be called twice.
 * When it refuses, the code is TT_EPARSE or TT_ETOOBIG (only for a
 * namespace over 256 bytes), *why says why and nothing is held.
 *
 * Known bug tolerated unless TT_KNOWN_BUGS=1: a payload that ends with a
 * separator yields no empty last packet (see sio_test.c).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "tt/sio.h"
#include "fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
static bool known_bugs; /* TT_KNOWN_BUGS set: known bugs are not tolerated */

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	known_bugs = getenv("TT_KNOWN_BUGS") != NULL;
	return 0;
}

/* The length of the namespace a packet s[0..len) names, 0 when none. */
static size_t
model_nsp_len(const char *s, size_t len)
{
	if (len < 2 || s[1] != '/')
		return 0;
	const char *comma = memchr(s + 1, ',', len - 1);
	return comma != NULL ? (size_t)(comma - (s + 1)) : len - 1;
}

static void
check_shape(const tt_sio_packet *p, const char *s, size_t len)
{
	CHECK(p->type >= TT_SIO_CONNECT && p->type <= TT_SIO_ACK);
	CHECK(p->type == s[0] - '0');

	/* The namespace. */
	CHECK(p->nsp != NULL && p->nsp_len >= 1 && p->nsp_len <= TT_SIO_NSP_MAX);
	bool inside = p->nsp >= s && p->nsp < s + len;
	if (inside) {
		CHECK(p->nsp == s + 1);
		CHECK(p->nsp_len <= len - 1);
		CHECK(p->nsp_len == model_nsp_len(s, len));
	} else {
		CHECK(p->nsp_len == 1 && p->nsp[0] == '/');
		CHECK(model_nsp_len(s, len) == 0);
	}
	CHECK(p->nsp[0] == '/');
	CHECK(memchr(p->nsp, '\0', p->nsp_len) == NULL);
	CHECK(memchr(p->nsp, ',', p->nsp_len) == NULL);
	CHECK(tt_sio_nsp_is(p, "/") == (p->nsp_len == 1));

	if (p->has_ack)
		CHECK(p->ack <= TT_SIO_ACK_MAX);

	switch (p->type) {
	case TT_SIO_CONNECT:
		CHECK(p->json == NULL || cJSON_IsObject(p->json));
		CHECK(!p->has_ack && p->event == NULL);
		break;
	case TT_SIO_DISCONNECT:
		CHECK(p->json == NULL && !p->has_ack && p->event == NULL);
		break;
	case TT_SIO_EVENT: {
		CHECK(cJSON_IsArray(p->json) && cJSON_GetArraySize(p->json) >= 1);
		const cJSON *first = cJSON_GetArrayItem(p->json, 0);
		CHECK(cJSON_IsString(first));
		CHECK(p->event != NULL && p->event == first->valuestring);
		break;
	}
	case TT_SIO_ACK:
		CHECK(p->has_ack && cJSON_IsArray(p->json) && p->event == NULL);
		break;
	}
}

/* Encodes p again as the built-in Socket.IO parser would and parses that. */
static void
check_round_trip(const tt_sio_packet *p)
{
	char head[1 + TT_SIO_NSP_MAX + 1 + 20 + 1];
	size_t n = 0;
	char *json = NULL;

	head[n++] = (char)('0' + p->type);
	if (p->nsp_len != 1) {
		memcpy(head + n, p->nsp, p->nsp_len);
		n += p->nsp_len;
		head[n++] = ',';
	}
	if (p->has_ack)
		n += (size_t)snprintf(
		    head + n, sizeof(head) - n, "%llu", (unsigned long long)p->ack);
	if (p->json != NULL) {
		json = cJSON_PrintUnformatted(p->json);
		CHECK(json != NULL);
	}
	size_t jlen = json != NULL ? strlen(json) : 0;
	char *enc = malloc(n + jlen + 1);
	CHECK(enc != NULL);
	memcpy(enc, head, n);
	if (jlen > 0)
		memcpy(enc + n, json, jlen);
	free(json);

	tt_sio_packet q;
	const char *why = NULL;
	CHECK(tt_sio_parse(enc, n + jlen, &q, &why) == TT_OK);
	CHECK(q.type == p->type);
	CHECK(q.nsp_len == p->nsp_len && memcmp(q.nsp, p->nsp, p->nsp_len) == 0);
	CHECK(q.has_ack == p->has_ack && q.ack == p->ack);
	CHECK((q.json == NULL) == (p->json == NULL));
	if (p->event != NULL)
		CHECK(q.event != NULL && strcmp(q.event, p->event) == 0);
	tt_sio_packet_fini(&q);
	free(enc);
}

static void
fuzz_packet(const char *pkt, size_t len)
{
	char *s = malloc(len > 0 ? len : 1);
	tt_sio_packet p;
	const char *why = NULL;

	CHECK(s != NULL);
	if (len > 0)
		memcpy(s, pkt, len);
	memset(&p, 0x5A, sizeof(p));
	tt_err e = tt_sio_parse(s, len, &p, &why);
	if (e != TT_OK) {
		CHECK(e == TT_EPARSE || e == TT_ETOOBIG);
		CHECK(why != NULL && why[0] != '\0');
		CHECK(p.json == NULL);
		if (e == TT_ETOOBIG)
			CHECK(model_nsp_len(s, len) > TT_SIO_NSP_MAX);
		tt_sio_packet_fini(&p);
		free(s);
		return;
	}
	CHECK(len >= 1 && s[0] >= '0' && s[0] <= '3');
	check_shape(&p, s, len);
	check_round_trip(&p);
	tt_sio_packet_fini(&p);
	CHECK(p.json == NULL);
	tt_sio_packet_fini(&p);
	free(s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *payload = malloc(size > 0 ? size : 1);
	size_t pos = 0, packets = 0, separators = 0, expect_at = 0;
	const char *pkt = NULL;
	size_t pkt_len = 0;

	CHECK(payload != NULL);
	if (size > 0)
		memcpy(payload, data, size);
	for (size_t i = 0; i < size; i++)
		separators += payload[i] == TT_EIO_SEPARATOR;

	while (tt_eio_next(payload, size, &pos, &pkt, &pkt_len)) {
		CHECK(packets <= size);
		/* The next piece: right after the previous separator. */
		CHECK(pkt == payload + expect_at);
		CHECK(pkt_len <= size - expect_at);
		CHECK(memchr(pkt, TT_EIO_SEPARATOR, pkt_len) == NULL);
		expect_at += pkt_len;
		CHECK(expect_at == size || payload[expect_at] == TT_EIO_SEPARATOR);
		expect_at++;
		packets++;

		fuzz_packet(pkt, pkt_len);
		if (pkt_len > 0 && pkt[0] == TT_EIO_MESSAGE)
			fuzz_packet(pkt + 1, pkt_len - 1);
	}
	/* The end stays the end. */
	CHECK(!tt_eio_next(payload, size, &pos, &pkt, &pkt_len));

	bool trailing = size > 0 && payload[size - 1] == TT_EIO_SEPARATOR;
	if (trailing && !known_bugs) {
		/* Known bug: the empty piece after a final separator is skipped. */
		CHECK(packets == separators || packets == separators + 1);
		CHECK(expect_at == size || expect_at == size + 1);
	} else {
		CHECK(packets == separators + 1);
		CHECK(expect_at == size + 1);
	}
	free(payload);
	return 0;
}
