/*
 * sio_test.c - the Engine.IO 4 polling payload iterator and the Socket.IO 5
 * packet parser of tt/sio.h.
 *
 * The packets are the encoding examples of the Socket.IO protocol v5
 * document (socketio/socket.io, docs/socket.io-protocol/v5-current.md:
 * "Packet encoding > Examples" and "Sample session", without the Engine.IO
 * '4'), plus the examples of the brief for this module; the refusals follow
 * the shapes stated in tt/sio.h. Every packet is parsed from a heap block of
 * exactly its length, so a read past it is a heap overflow under ASan.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "tt/sio.h"

/* ---- Engine.IO payloads ------------------------------------------------------- */

#define MAX_PACKETS 8

typedef struct {
	char *copy; /* the exact-size payload the packets point into */
	size_t len;
	size_t n;
	const char *pkt[MAX_PACKETS];
	size_t pkt_len[MAX_PACKETS];
} eio_split;

/* Runs tt_eio_next over an exact-size copy of payload[0..len). */
static void
eio_split_run(eio_split *sp, const char *payload, size_t len)
{
	size_t pos = 0;

	memset(sp, 0, sizeof(*sp));
	sp->copy = malloc(len > 0 ? len : 1);
	assert_non_null(sp->copy);
	if (len > 0)
		memcpy(sp->copy, payload, len);
	sp->len = len;
	for (;;) {
		const char *pkt = NULL;
		size_t pkt_len = 0;
		if (!tt_eio_next(sp->copy, len, &pos, &pkt, &pkt_len))
			break;
		assert_true(sp->n < MAX_PACKETS);
		assert_true(
		    pkt >= sp->copy && pkt_len <= len && (size_t)(pkt - sp->copy) <= len - pkt_len);
		sp->pkt[sp->n] = pkt;
		sp->pkt_len[sp->n] = pkt_len;
		sp->n++;
	}
	/* The end stays the end. */
	const char *pkt = NULL;
	size_t pkt_len = 0;
	assert_false(tt_eio_next(sp->copy, len, &pos, &pkt, &pkt_len));
}

static void
assert_packet(const eio_split *sp, size_t i, const char *want)
{
	assert_true(i < sp->n);
	assert_int_equal(sp->pkt_len[i], strlen(want));
	assert_memory_equal(sp->pkt[i], want, strlen(want));
}

#define EIO_SPLIT(sp, lit) eio_split_run(sp, lit, sizeof(lit) - 1)

static void
test_eio_payload_of_three_packets(void **state)
{
	(void)state;
	eio_split sp;
	EIO_SPLIT(&sp, "4hello\x1e"
	               "2\x1e"
	               "3");
	assert_int_equal(sp.n, 3);
	assert_packet(&sp, 0, "4hello");
	assert_packet(&sp, 1, "2");
	assert_packet(&sp, 2, "3");
	assert_ptr_equal(sp.pkt[0], sp.copy);
	free(sp.copy);
}

static void
test_eio_payload_of_the_sample_session(void **state)
{
	(void)state;
	eio_split sp;
	EIO_SPLIT(&sp, "42[\"hello\"]\x1e"
	               "42[\"world\"]");
	assert_int_equal(sp.n, 2);
	assert_packet(&sp, 0, "42[\"hello\"]");
	assert_packet(&sp, 1, "42[\"world\"]");
	free(sp.copy);
}

static void
test_eio_single_packet(void **state)
{
	(void)state;
	eio_split sp;
	EIO_SPLIT(&sp, "40");
	assert_int_equal(sp.n, 1);
	assert_packet(&sp, 0, "40");
	free(sp.copy);
}

static void
test_eio_empty_payload_is_one_empty_packet(void **state)
{
	(void)state;
	eio_split sp;
	EIO_SPLIT(&sp, "");
	assert_int_equal(sp.n, 1);
	assert_int_equal(sp.pkt_len[0], 0);
	free(sp.copy);
}

static void
test_eio_two_separators_in_a_row_give_an_empty_packet(void **state)
{
	(void)state;
	eio_split sp;
	EIO_SPLIT(&sp, "2\x1e\x1e"
	               "3");
	assert_int_equal(sp.n, 3);
	assert_packet(&sp, 0, "2");
	assert_packet(&sp, 1, "");
	assert_packet(&sp, 2, "3");
	free(sp.copy);

	EIO_SPLIT(&sp, "\x1e"
	               "2");
	assert_int_equal(sp.n, 2);
	assert_packet(&sp, 0, "");
	assert_packet(&sp, 1, "2");
	free(sp.copy);
}

static void
test_eio_trailing_separator_gives_an_empty_last_packet(void **state)
{
	(void)state;
	eio_split sp;
	EIO_SPLIT(&sp, "2\x1e");
	assert_int_equal(sp.n, 2);
	assert_packet(&sp, 0, "2");
	assert_packet(&sp, 1, "");
	free(sp.copy);
}

static void
test_eio_reads_no_further_than_len(void **state)
{
	(void)state;
	eio_split sp;
	eio_split_run(&sp,
	    "2\x1e"
	    "3",
	    1);
	assert_int_equal(sp.n, 1);
	assert_packet(&sp, 0, "2");
	free(sp.copy);
}

/* ---- Socket.IO packets: accepted ------------------------------------------------ */

typedef struct {
	char *copy;
	tt_sio_packet p;
	const char *why;
	tt_err e;
} sio_parsed;

static void
sio_run(sio_parsed *r, const char *s, size_t len)
{
	memset(r, 0, sizeof(*r));
	r->copy = malloc(len > 0 ? len : 1);
	assert_non_null(r->copy);
	if (len > 0)
		memcpy(r->copy, s, len);
	r->why = "untouched";
	r->e = tt_sio_parse(r->copy, len, &r->p, &r->why);
}

static void
sio_done(sio_parsed *r)
{
	tt_sio_packet_fini(&r->p);
	assert_null(r->p.json);
	tt_sio_packet_fini(&r->p);
	free(r->copy);
}

/* Parses s, asserts success, type, namespace and ack (-1: none). */
static void
sio_ok(sio_parsed *r, const char *s, int type, const char *nsp, long long ack)
{
	sio_run(r, s, strlen(s));
	if (r->e != TT_OK)
		fail_msg("\"%s\" refused: %s", s, r->why != NULL ? r->why : "(no reason)");
	assert_int_equal(r->p.type, type);
	assert_int_equal(r->p.nsp_len, strlen(nsp));
	assert_memory_equal(r->p.nsp, nsp, strlen(nsp));
	assert_true(tt_sio_nsp_is(&r->p, nsp));
	if (strcmp(nsp, "/") != 0) /* a custom namespace points into the input */
		assert_ptr_equal(r->p.nsp, r->copy + 1);
	if (ack < 0) {
		assert_false(r->p.has_ack);
	} else {
		assert_true(r->p.has_ack);
		assert_true(r->p.ack == (uint64_t)ack);
	}
}

static void
test_sio_connect_to_the_main_namespace(void **state)
{
	(void)state;
	sio_parsed r;
	sio_ok(&r, "0", TT_SIO_CONNECT, "/", -1);
	assert_null(r.p.json);
	assert_null(r.p.event);
	assert_false(tt_sio_nsp_is(&r.p, "/admin"));
	sio_done(&r);
}

static void
test_sio_connect_to_a_custom_namespace(void **state)
{
	(void)state;
	sio_parsed r;
	sio_ok(&r, "0/admin,", TT_SIO_CONNECT, "/admin", -1);
	assert_null(r.p.json);
	assert_false(tt_sio_nsp_is(&r.p, "/"));
	assert_false(tt_sio_nsp_is(&r.p, "/admi"));
	sio_done(&r);
}

static void
test_sio_connect_with_an_auth_payload(void **state)
{
	(void)state;
	sio_parsed r;
	sio_ok(&r, "0/admin,{\"token\":\"123\"}", TT_SIO_CONNECT, "/admin", -1);
	assert_true(cJSON_IsObject(r.p.json));
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(r.p.json, "token")), "123");
	sio_done(&r);

	sio_ok(&r, "0/admin,{\"sid\":\"oSO0OpakMV_3jnilAAAA\"}", TT_SIO_CONNECT, "/admin", -1);
	assert_string_equal(
	    cJSON_GetStringValue(cJSON_GetObjectItem(r.p.json, "sid")), "oSO0OpakMV_3jnilAAAA");
	sio_done(&r);

	sio_ok(&r, "0{\"token\":\"abc\"}", TT_SIO_CONNECT, "/", -1);
	assert_true(cJSON_IsObject(r.p.json));
	sio_done(&r);
}

static void
assert_event_args(const sio_parsed *r, const char *name, int items)
{
	assert_non_null(r->p.event);
	assert_string_equal(r->p.event, name);
	assert_true(cJSON_IsArray(r->p.json));
	assert_int_equal(cJSON_GetArraySize(r->p.json), items);
	assert_ptr_equal(r->p.event, cJSON_GetArrayItem(r->p.json, 0)->valuestring);
}

static void
test_sio_event_in_the_main_namespace(void **state)
{
	(void)state;
	sio_parsed r;
	sio_ok(&r, "2[\"foo\"]", TT_SIO_EVENT, "/", -1);
	assert_event_args(&r, "foo", 1);
	sio_done(&r);

	sio_ok(&r, "2[\"hello\",1]", TT_SIO_EVENT, "/", -1);
	assert_event_args(&r, "hello", 2);
	assert_int_equal(cJSON_GetArrayItem(r.p.json, 1)->valueint, 1);
	sio_done(&r);

	sio_ok(&r, "2[\"hey\",\"Jude\"]", TT_SIO_EVENT, "/", -1);
	assert_event_args(&r, "hey", 2);
	sio_done(&r);
}

static void
test_sio_event_in_a_custom_namespace(void **state)
{
	(void)state;
	sio_parsed r;
	sio_ok(&r, "2/admin,[\"bar\"]", TT_SIO_EVENT, "/admin", -1);
	assert_event_args(&r, "bar", 1);
	sio_done(&r);
}

static void
test_sio_event_with_an_ack_id(void **state)
{
	(void)state;
	sio_parsed r;
	sio_ok(&r, "212[\"foo\"]", TT_SIO_EVENT, "/", 12);
	assert_event_args(&r, "foo", 1);
	sio_done(&r);

	sio_ok(&r, "2/admin,456[\"project:delete\",123]", TT_SIO_EVENT, "/admin", 456);
	assert_event_args(&r, "project:delete", 2);
	assert_int_equal(cJSON_GetArrayItem(r.p.json, 1)->valueint, 123);
	sio_done(&r);

	sio_ok(&r, "2/admin,1[\"tellme\"]", TT_SIO_EVENT, "/admin", 1);
	assert_event_args(&r, "tellme", 1);
	sio_done(&r);

	sio_ok(&r, "20[\"zero\"]", TT_SIO_EVENT, "/", 0);
	sio_done(&r);
}

static void
test_sio_ack(void **state)
{
	(void)state;
	sio_parsed r;
	sio_ok(&r, "3/admin,13[\"bar\"]", TT_SIO_ACK, "/admin", 13);
	assert_true(cJSON_IsArray(r.p.json));
	assert_int_equal(cJSON_GetArraySize(r.p.json), 1);
	assert_null(r.p.event);
	sio_done(&r);

	sio_ok(&r, "3/admin,456[]", TT_SIO_ACK, "/admin", 456);
	assert_true(cJSON_IsArray(r.p.json));
	assert_int_equal(cJSON_GetArraySize(r.p.json), 0);
	sio_done(&r);

	sio_ok(&r, "312[]", TT_SIO_ACK, "/", 12);
	sio_done(&r);
}

static void
test_sio_disconnect(void **state)
{
	(void)state;
	sio_parsed r;
	sio_ok(&r, "1", TT_SIO_DISCONNECT, "/", -1);
	assert_null(r.p.json);
	sio_done(&r);

	sio_ok(&r, "1/admin,", TT_SIO_DISCONNECT, "/admin", -1);
	assert_null(r.p.json);
	sio_done(&r);
}

static void
test_sio_ack_id_of_15_digits_is_accepted(void **state)
{
	(void)state;
	sio_parsed r;
	sio_ok(&r, "2999999999999999[\"e\"]", TT_SIO_EVENT, "/", 999999999999999LL);
	assert_true(r.p.ack == TT_SIO_ACK_MAX);
	sio_done(&r);
}

static void
test_sio_namespace_of_256_bytes_is_accepted(void **state)
{
	(void)state;
	char s[300];
	char nsp[257];
	nsp[0] = '/';
	memset(nsp + 1, 'n', 255);
	nsp[256] = '\0';
	memcpy(s, "2", 1);
	memcpy(s + 1, nsp, 256);
	memcpy(s + 257, ",[\"e\"]", 7);
	sio_parsed r;
	sio_ok(&r, s, TT_SIO_EVENT, nsp, -1);
	sio_done(&r);
}

/* ---- Socket.IO packets: refused --------------------------------------------------- */

static void
assert_refused_n(const char *s, size_t len, tt_err want)
{
	sio_parsed r;
	sio_run(&r, s, len);
	if (r.e == TT_OK)
		fail_msg("\"%.*s\" accepted", (int)len, s);
	assert_int_equal(r.e, want);
	assert_non_null(r.why);
	assert_string_not_equal(r.why, "untouched");
	assert_null(r.p.json);
	sio_done(&r);
}

#define REFUSED(lit) assert_refused_n(lit, sizeof(lit) - 1, TT_EPARSE)

static void
test_sio_refuses_binary_packets(void **state)
{
	(void)state;
	REFUSED("51-[\"baz\",{\"_placeholder\":true,\"num\":0}]");
	REFUSED(
	    "52-/"
	    "admin,[\"baz\",{\"_placeholder\":true,\"num\":0},{\"_placeholder\":true,\"num\":1}]");
	REFUSED("61-15[\"bar\",{\"_placeholder\":true,\"num\":0}]");
	REFUSED("5");
	REFUSED("6");
}

static void
test_sio_refuses_connect_error_from_a_client(void **state)
{
	(void)state;
	REFUSED("4{\"message\":\"Not authorized\"}");
	REFUSED("4");
}

static void
test_sio_refuses_unknown_types(void **state)
{
	(void)state;
	REFUSED("");
	REFUSED("7");
	REFUSED("9[\"a\"]");
	REFUSED("a");
	REFUSED("/admin,");
	REFUSED("[\"a\"]");
	REFUSED(" 2[\"a\"]");
	assert_refused_n("\0", 1, TT_EPARSE);
}

static void
test_sio_refuses_a_namespace_over_256_bytes(void **state)
{
	(void)state;
	char s[300];
	s[0] = '2';
	s[1] = '/';
	memset(s + 2, 'n', 256); /* "/" + 256 = 257 bytes */
	memcpy(s + 258, ",[\"e\"]", 6);
	assert_refused_n(s, 264, TT_ETOOBIG);
}

static void
test_sio_refuses_nul_in_the_namespace(void **state)
{
	(void)state;
	static const char s[] = "2/ad\0min,[\"e\"]";
	assert_refused_n(s, sizeof(s) - 1, TT_EPARSE);
	static const char t[] = "0/\0,";
	assert_refused_n(t, sizeof(t) - 1, TT_EPARSE);
}

static void
test_sio_refuses_an_ack_id_over_15_digits(void **state)
{
	(void)state;
	REFUSED("21000000000000000[\"e\"]");
	REFUSED("2/admin,99999999999999999999999[\"e\"]");
	REFUSED("31000000000000000[]");
}

static void
test_sio_refuses_json_garbage(void **state)
{
	(void)state;
	REFUSED("2[\"a\"");
	REFUSED("2[\"a\",]");
	REFUSED("2{");
	REFUSED("2hello");
	REFUSED("2['a']");
	REFUSED("0/admin,{token:1}");
	REFUSED("3/admin,13[\"bar\"]`"); /* the spec document's typo, taken literally */
	/* The packet ends before the JSON does, though the bytes after it would close it. */
	assert_refused_n("2[\"a\"]", 5, TT_EPARSE);
}

static void
test_sio_refuses_data_after_the_json(void **state)
{
	(void)state;
	REFUSED("2[\"a\"]x");
	REFUSED("2[\"a\"][\"b\"]");
	REFUSED("0{}{}");
	REFUSED("2[\"a\"],");
}

static void
test_sio_refuses_control_bytes_before_the_json(void **state)
{
	(void)state;
	static const char nul[] = "2\0[\"a\"]";
	assert_refused_n(nul, sizeof(nul) - 1, TT_EPARSE);
	REFUSED("2\x01[\"a\"]");
	REFUSED("0/admin,\x1f{}");
}

static void
test_sio_refuses_an_event_that_is_not_an_array(void **state)
{
	(void)state;
	REFUSED("2");
	REFUSED("2/admin,");
	REFUSED("212");
	REFUSED("2{\"a\":1}");
	REFUSED("2\"foo\"");
	REFUSED("2null");
}

static void
test_sio_refuses_an_event_with_an_empty_array(void **state)
{
	(void)state;
	REFUSED("2[]");
	REFUSED("2/admin,7[]");
}

static void
test_sio_refuses_an_event_whose_first_item_is_not_a_string(void **state)
{
	(void)state;
	REFUSED("2[1,\"a\"]");
	REFUSED("2[null]");
	REFUSED("2[[\"a\"]]");
	REFUSED("2[{\"a\":1}]");
	REFUSED("2[true]");
}

static void
test_sio_refuses_an_ack_without_id_or_array(void **state)
{
	(void)state;
	REFUSED("3[\"bar\"]");
	REFUSED("3/admin,[]");
	REFUSED("313");
	REFUSED("313{}");
	REFUSED("313\"bar\"");
}

static void
test_sio_refuses_connect_with_a_non_object_payload(void **state)
{
	(void)state;
	REFUSED("0[\"a\"]");
	REFUSED("0/admin,[]");
	REFUSED("0\"token\"");
	REFUSED("0null");
	REFUSED("012{}"); /* an ack id */
}

static void
test_sio_refuses_disconnect_with_a_payload(void **state)
{
	(void)state;
	REFUSED("1{}");
	REFUSED("1/admin,{}");
	REFUSED("1[\"x\"]");
	REFUSED("112");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_eio_payload_of_three_packets),
	    cmocka_unit_test(test_eio_payload_of_the_sample_session),
	    cmocka_unit_test(test_eio_single_packet),
	    cmocka_unit_test(test_eio_empty_payload_is_one_empty_packet),
	    cmocka_unit_test(test_eio_two_separators_in_a_row_give_an_empty_packet),
	    cmocka_unit_test(test_eio_trailing_separator_gives_an_empty_last_packet),
	    cmocka_unit_test(test_eio_reads_no_further_than_len),
	    cmocka_unit_test(test_sio_connect_to_the_main_namespace),
	    cmocka_unit_test(test_sio_connect_to_a_custom_namespace),
	    cmocka_unit_test(test_sio_connect_with_an_auth_payload),
	    cmocka_unit_test(test_sio_event_in_the_main_namespace),
	    cmocka_unit_test(test_sio_event_in_a_custom_namespace),
	    cmocka_unit_test(test_sio_event_with_an_ack_id),
	    cmocka_unit_test(test_sio_ack),
	    cmocka_unit_test(test_sio_disconnect),
	    cmocka_unit_test(test_sio_ack_id_of_15_digits_is_accepted),
	    cmocka_unit_test(test_sio_namespace_of_256_bytes_is_accepted),
	    cmocka_unit_test(test_sio_refuses_binary_packets),
	    cmocka_unit_test(test_sio_refuses_connect_error_from_a_client),
	    cmocka_unit_test(test_sio_refuses_unknown_types),
	    cmocka_unit_test(test_sio_refuses_a_namespace_over_256_bytes),
	    cmocka_unit_test(test_sio_refuses_nul_in_the_namespace),
	    cmocka_unit_test(test_sio_refuses_an_ack_id_over_15_digits),
	    cmocka_unit_test(test_sio_refuses_json_garbage),
	    cmocka_unit_test(test_sio_refuses_data_after_the_json),
	    cmocka_unit_test(test_sio_refuses_control_bytes_before_the_json),
	    cmocka_unit_test(test_sio_refuses_an_event_that_is_not_an_array),
	    cmocka_unit_test(test_sio_refuses_an_event_with_an_empty_array),
	    cmocka_unit_test(test_sio_refuses_an_event_whose_first_item_is_not_a_string),
	    cmocka_unit_test(test_sio_refuses_an_ack_without_id_or_array),
	    cmocka_unit_test(test_sio_refuses_connect_with_a_non_object_payload),
	    cmocka_unit_test(test_sio_refuses_disconnect_with_a_payload),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
