/*
 * amqp.c - thin, checked wrappers over rabbitmq-c for the declarations,
 * publishes and confirms the services need. Consuming is left to the
 * caller (amqp_consume_message on tt_amqp_conn) because batching and
 * acknowledgement policy belong to the service.
 */
#include "tt/amqp.h"

#include <amqp_tcp_socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "tt/time.h"

struct tt_amqp {
	amqp_connection_state_t conn;
	uint64_t published;   /* publishes since confirm.select */
	uint64_t confirmed;   /* highest delivery tag confirmed */
	bool     confirming;
	bool     open;        /* logged in with channel 1 open: close politely */
};

amqp_connection_state_t
tt_amqp_conn(tt_amqp *a)
{
	return a->conn;
}

static tt_err
reply_err(amqp_rpc_reply_t r, const char *what, char *err, size_t errlen)
{
	switch (r.reply_type) {
	case AMQP_RESPONSE_NORMAL:
		return TT_OK;
	case AMQP_RESPONSE_NONE:
		return tt_seterr(err, errlen, TT_EAMQP, "%s: missing RPC reply", what);
	case AMQP_RESPONSE_LIBRARY_EXCEPTION:
		return tt_seterr(err, errlen, TT_ECONN, "%s: %s", what,
		    amqp_error_string2(r.library_error));
	case AMQP_RESPONSE_SERVER_EXCEPTION:
		if (r.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
			amqp_connection_close_t *m = r.reply.decoded;
			return tt_seterr(err, errlen, TT_EAMQP, "%s: connection closed %u %.*s",
			    what, m->reply_code, (int)m->reply_text.len, (char *)m->reply_text.bytes);
		}
		if (r.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
			amqp_channel_close_t *m = r.reply.decoded;
			return tt_seterr(err, errlen, TT_EAMQP, "%s: channel closed %u %.*s",
			    what, m->reply_code, (int)m->reply_text.len, (char *)m->reply_text.bytes);
		}
		return tt_seterr(err, errlen, TT_EAMQP, "%s: server error 0x%08x", what, r.reply.id);
	}
	return TT_EAMQP;
}

tt_err
tt_amqp_check(tt_amqp *a, const char *what, char *err, size_t errlen)
{
	return reply_err(amqp_get_rpc_reply(a->conn), what, err, errlen);
}

tt_err
tt_amqp_open(tt_amqp **out, const char *url, int heartbeat, char *err, size_t errlen)
{
	struct amqp_connection_info ci;
	char *copy = strdup(url);
	tt_amqp *a = NULL;
	amqp_socket_t *sock;
	struct timeval tv = { 5, 0 };
	tt_err e;
	int rc;

	if (copy == NULL)
		return TT_ENOMEM;
	amqp_default_connection_info(&ci);
	if (amqp_parse_url(copy, &ci) != AMQP_STATUS_OK) {
		e = tt_seterr(err, errlen, TT_ECONFIG, "RABBITMQ_URL: not a valid amqp URL");
		goto fail;
	}
	if ((a = calloc(1, sizeof(*a))) == NULL) {
		e = TT_ENOMEM;
		goto fail;
	}
	a->conn = amqp_new_connection();
	if (a->conn == NULL || (sock = amqp_tcp_socket_new(a->conn)) == NULL) {
		e = TT_ENOMEM;
		goto fail;
	}
	if ((rc = amqp_socket_open_noblock(sock, ci.host, ci.port, &tv)) != AMQP_STATUS_OK) {
		e = tt_seterr(err, errlen, TT_ECONN, "rabbitmq %s:%d: %s", ci.host, ci.port,
		    amqp_error_string2(rc));
		goto fail;
	}
	/* "amqp://host/" leaves the vhost empty; RabbitMQ's default is "/". */
	e = reply_err(amqp_login(a->conn, ci.vhost[0] ? ci.vhost : "/", 0, 131072, heartbeat,
	    AMQP_SASL_METHOD_PLAIN, ci.user, ci.password), "rabbitmq login", err, errlen);
	if (e != TT_OK)
		goto fail;
	amqp_channel_open(a->conn, 1);
	if ((e = tt_amqp_check(a, "channel open", err, errlen)) != TT_OK)
		goto fail;
	a->open = true;
	free(copy);
	*out = a;
	return TT_OK;

fail:
	free(copy);
	tt_amqp_close(a);
	return e;
}

void
tt_amqp_mark_broken(tt_amqp *a)
{
	if (a != NULL)
		a->open = false;
}

void
tt_amqp_close(tt_amqp *a)
{
	if (a == NULL)
		return;
	if (a->conn != NULL) {
		/* A close handshake on a dead connection would wait for a reply. */
		if (a->open) {
			amqp_channel_close(a->conn, 1, AMQP_REPLY_SUCCESS);
			amqp_connection_close(a->conn, AMQP_REPLY_SUCCESS);
		}
		amqp_destroy_connection(a->conn);
	}
	free(a);
}

tt_err
tt_amqp_declare_exchange(tt_amqp *a, const char *name, const char *type,
    char *err, size_t errlen)
{
	amqp_exchange_declare(a->conn, 1, amqp_cstring_bytes(name),
	    amqp_cstring_bytes(type), 0, 1, 0, 0, amqp_empty_table);
	return tt_amqp_check(a, "exchange declare", err, errlen);
}

tt_err
tt_amqp_declare_queue(tt_amqp *a, const char *name, const char *type,
    const char *dlx, const char *exchange, const char *binding_key,
    char *err, size_t errlen)
{
	amqp_table_entry_t entries[2];
	amqp_table_t args = { 0, entries };
	tt_err e;

	entries[args.num_entries].key = amqp_cstring_bytes("x-queue-type");
	entries[args.num_entries].value.kind = AMQP_FIELD_KIND_UTF8;
	entries[args.num_entries].value.value.bytes = amqp_cstring_bytes(type);
	args.num_entries++;
	if (dlx != NULL) {
		entries[args.num_entries].key = amqp_cstring_bytes("x-dead-letter-exchange");
		entries[args.num_entries].value.kind = AMQP_FIELD_KIND_UTF8;
		entries[args.num_entries].value.value.bytes = amqp_cstring_bytes(dlx);
		args.num_entries++;
	}
	amqp_queue_declare(a->conn, 1, amqp_cstring_bytes(name), 0, 1, 0, 0, args);
	if ((e = tt_amqp_check(a, "queue declare", err, errlen)) != TT_OK)
		return e;
	if (exchange == NULL)
		return TT_OK;
	amqp_queue_bind(a->conn, 1, amqp_cstring_bytes(name), amqp_cstring_bytes(exchange),
	    amqp_cstring_bytes(binding_key), amqp_empty_table);
	return tt_amqp_check(a, "queue bind", err, errlen);
}

tt_err
tt_amqp_confirm_select(tt_amqp *a, char *err, size_t errlen)
{
	amqp_confirm_select(a->conn, 1);
	tt_err e = tt_amqp_check(a, "confirm select", err, errlen);
	if (e == TT_OK) {
		a->confirming = true;
		a->published = a->confirmed = 0;
	}
	return e;
}

tt_err
tt_amqp_publish(tt_amqp *a, const char *exchange, const char *routing_key,
    const void *body, size_t len, int nheaders, const char *const *names,
    const char *const *values, char *err, size_t errlen)
{
	amqp_basic_properties_t props;
	amqp_table_entry_t entries[8];
	amqp_bytes_t b = { len, (void *)(uintptr_t)body };
	int rc;

	if (nheaders > 8)
		return TT_EINVAL;
	memset(&props, 0, sizeof(props));
	props._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG;
	props.content_type = amqp_cstring_bytes("application/json");
	props.delivery_mode = 2;
	if (nheaders > 0) {
		for (int i = 0; i < nheaders; i++) {
			entries[i].key = amqp_cstring_bytes(names[i]);
			entries[i].value.kind = AMQP_FIELD_KIND_UTF8;
			entries[i].value.value.bytes = amqp_cstring_bytes(values[i]);
		}
		props._flags |= AMQP_BASIC_HEADERS_FLAG;
		props.headers.num_entries = nheaders;
		props.headers.entries = entries;
	}
	rc = amqp_basic_publish(a->conn, 1, amqp_cstring_bytes(exchange),
	    amqp_cstring_bytes(routing_key), 0, 0, &props, b);
	if (rc != AMQP_STATUS_OK)
		return tt_seterr(err, errlen, TT_ECONN, "publish: %s", amqp_error_string2(rc));
	if (a->confirming)
		a->published++;
	return TT_OK;
}

tt_err
tt_amqp_wait_confirms(tt_amqp *a, int timeout_ms, char *err, size_t errlen)
{
	int64_t deadline = tt_mono_ms() + timeout_ms;

	while (a->confirmed < a->published) {
		amqp_frame_t f;
		int64_t left = deadline - tt_mono_ms();
		if (left <= 0)
			return tt_seterr(err, errlen, TT_ETIMEDOUT, "publisher confirms timed out");
		struct timeval tv = { (time_t)(left / 1000), (suseconds_t)(left % 1000) * 1000 };
		int rc = amqp_simple_wait_frame_noblock(a->conn, &f, &tv);
		if (rc == AMQP_STATUS_TIMEOUT)
			continue;
		if (rc != AMQP_STATUS_OK)
			return tt_seterr(err, errlen, TT_ECONN, "confirm wait: %s",
			    amqp_error_string2(rc));
		if (f.frame_type != AMQP_FRAME_METHOD)
			continue;
		if (f.payload.method.id == AMQP_BASIC_ACK_METHOD) {
			amqp_basic_ack_t *ack = f.payload.method.decoded;
			if (ack->delivery_tag > a->confirmed)
				a->confirmed = ack->delivery_tag;
		} else if (f.payload.method.id == AMQP_BASIC_NACK_METHOD) {
			return tt_seterr(err, errlen, TT_EAMQP, "broker refused a publish (nack)");
		} else if (f.payload.method.id == AMQP_CHANNEL_CLOSE_METHOD ||
		    f.payload.method.id == AMQP_CONNECTION_CLOSE_METHOD) {
			return tt_seterr(err, errlen, TT_EAMQP, "channel closed by broker");
		}
	}
	return TT_OK;
}

tt_err
tt_amqp_queue_depth(tt_amqp *a, const char *queue, uint32_t *messages,
    char *err, size_t errlen)
{
	amqp_queue_declare_ok_t *ok = amqp_queue_declare(a->conn, 1,
	    amqp_cstring_bytes(queue), 1, 0, 0, 0, amqp_empty_table);
	tt_err e = tt_amqp_check(a, "queue declare passive", err, errlen);
	if (e == TT_OK && ok != NULL)
		*messages = ok->message_count;
	return e;
}
