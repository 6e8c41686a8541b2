/*
 * bus.c - nng pub/sub with the tt1 layout. Dialers are non-blocking so a
 * subscriber starts before its publishers and connects when they appear.
 */
#include "tt/bus.h"
#include "tt/strbuf.h"

#include <nng/nng.h>
#include <nng/protocol/pubsub0/pub.h>
#include <nng/protocol/pubsub0/sub.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct tt_bus {
	nng_socket      sock;
	/*
	 * Publishing reuses one aio: nng_sendmsg() allocates (and seeds from
	 * getrandom) an aio per call, which cost 8% of ingest's CPU at one
	 * message per event. A PUB send completes at once (queued or dropped).
	 */
	nng_aio        *aio;
	pthread_mutex_t send_mtx;
};

tt_err
tt_bus_pub_open(tt_bus **out, const char *url, char *err, size_t errlen)
{
	tt_bus *b = calloc(1, sizeof(*b));
	int rv;

	if (b == NULL)
		return TT_ENOMEM;
	if ((rv = nng_pub0_open(&b->sock)) != 0) {
		free(b);
		return tt_seterr(err, errlen, TT_EBUS, "nng pub: %s", nng_strerror(rv));
	}
	if ((rv = nng_aio_alloc(&b->aio, NULL, NULL)) != 0) {
		nng_close(b->sock);
		free(b);
		return tt_seterr(err, errlen, TT_EBUS, "nng aio: %s", nng_strerror(rv));
	}
	pthread_mutex_init(&b->send_mtx, NULL);
	/*
	 * nng queues 16 messages per subscriber by default and drops beyond
	 * that; one batch publishes thousands. Lossy stays lossy, but only
	 * under real overload.
	 */
	nng_setopt_int(b->sock, NNG_OPT_SENDBUF, TT_BUS_SENDBUF);
	if ((rv = nng_listen(b->sock, url, NULL, 0)) != 0) {
		tt_bus_close(b);
		return tt_seterr(err, errlen, TT_EBUS, "nng listen %s: %s", url, nng_strerror(rv));
	}
	*out = b;
	return TT_OK;
}

tt_err
tt_bus_sub_open(tt_bus **out, const char *urls, const char *prefix,
    char *err, size_t errlen)
{
	tt_bus *b = calloc(1, sizeof(*b));
	char url[512];
	int rv;

	if (b == NULL)
		return TT_ENOMEM;
	if ((rv = nng_sub0_open(&b->sock)) != 0) {
		free(b);
		return tt_seterr(err, errlen, TT_EBUS, "nng sub: %s", nng_strerror(rv));
	}
	nng_setopt(b->sock, NNG_OPT_SUB_SUBSCRIBE, prefix, strlen(prefix));
	nng_setopt_size(b->sock, NNG_OPT_RECVMAXSZ, TT_BUS_MAX_MSG);
	for (const char *p = urls; *p != '\0';) {
		size_t n = strcspn(p, ",");
		if (n > 0 && n < sizeof(url)) {
			memcpy(url, p, n);
			url[n] = '\0';
			if ((rv = nng_dial(b->sock, url, NULL, NNG_FLAG_NONBLOCK)) != 0) {
				nng_close(b->sock);
				free(b);
				return tt_seterr(err, errlen, TT_EBUS, "nng dial %s: %s", url,
				    nng_strerror(rv));
			}
		}
		p += n;
		if (*p == ',')
			p++;
	}
	*out = b;
	return TT_OK;
}

void
tt_bus_close(tt_bus *b)
{
	if (b == NULL)
		return;
	nng_close(b->sock);
	if (b->aio != NULL) {
		nng_aio_free(b->aio);
		pthread_mutex_destroy(&b->send_mtx);
	}
	free(b);
}

tt_err
tt_bus_publish(tt_bus *b, const char *kind, const char *venue,
    const char *json, size_t json_len)
{
	nng_msg *m;
	size_t kl = strlen(kind), vl = strlen(venue);

	if (4 + kl + 1 + vl + 1 + json_len > TT_BUS_MAX_MSG)
		return TT_ETOOBIG;
	if (nng_msg_alloc(&m, 0) != 0)
		return TT_ENOMEM;
	if (nng_msg_append(m, TT_BUS_VERSION "|", 4) != 0 ||
	    nng_msg_append(m, kind, kl) != 0 || nng_msg_append(m, "|", 1) != 0 ||
	    nng_msg_append(m, venue, vl) != 0 || nng_msg_append(m, "|", 1) != 0 ||
	    nng_msg_append(m, json, json_len) != 0) {
		nng_msg_free(m);
		return TT_ENOMEM;
	}
	if (b->aio == NULL) {   /* a SUB socket: nothing to publish on */
		nng_msg_free(m);
		return TT_EBUS;
	}
	pthread_mutex_lock(&b->send_mtx);
	nng_aio_set_msg(b->aio, m);
	nng_send_aio(b->sock, b->aio);
	nng_aio_wait(b->aio);
	int rv = nng_aio_result(b->aio);
	pthread_mutex_unlock(&b->send_mtx);
	if (rv != 0) {
		nng_msg_free(m);   /* on failure the message is still ours */
		return TT_EBUS;
	}
	return TT_OK;
}

tt_err
tt_bus_parse(char *buf, size_t len, tt_bus_msg *msg)
{
	char *kind, *venue, *json, *bar;

	if (len < 4 || memcmp(buf, TT_BUS_VERSION "|", 4) != 0)
		return TT_EPARSE;
	kind = buf + 4;
	if ((bar = memchr(kind, '|', len - 4)) == NULL)
		return TT_EPARSE;
	*bar = '\0';
	venue = bar + 1;
	if ((bar = memchr(venue, '|', len - (size_t)(venue - buf))) == NULL)
		return TT_EPARSE;
	*bar = '\0';
	json = bar + 1;
	msg->buf = buf;
	msg->kind = kind;
	msg->venue = venue;
	msg->json = json;
	msg->json_len = len - (size_t)(json - buf);
	return TT_OK;
}

tt_err
tt_bus_recv(tt_bus *b, tt_bus_msg *msg, int timeout_ms)
{
	nng_msg *m;
	int rv;

	memset(msg, 0, sizeof(*msg));
	nng_setopt_ms(b->sock, NNG_OPT_RECVTIMEO, timeout_ms < 0 ? NNG_DURATION_INFINITE : timeout_ms);
	if ((rv = nng_recvmsg(b->sock, &m, 0)) != 0)
		return rv == NNG_ETIMEDOUT ? TT_ETIMEDOUT : rv == NNG_ECLOSED ? TT_ECLOSED : TT_EBUS;
	size_t len = nng_msg_len(m);
	char *buf = malloc(len + 1);
	if (buf == NULL) {
		nng_msg_free(m);
		return TT_ENOMEM;
	}
	memcpy(buf, nng_msg_body(m), len);
	buf[len] = '\0';
	nng_msg_free(m);
	if (tt_bus_parse(buf, len, msg) != TT_OK) {
		free(buf);
		memset(msg, 0, sizeof(*msg));
		return TT_EPARSE;
	}
	return TT_OK;
}

void
tt_bus_msg_fini(tt_bus_msg *msg)
{
	if (msg == NULL)
		return;
	free(msg->buf);
	memset(msg, 0, sizeof(*msg));
}
