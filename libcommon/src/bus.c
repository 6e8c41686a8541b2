/*
 * bus.c - nng pub/sub with the tt1 layout. Dialers are non-blocking so a
 * subscriber starts before its publishers and connects when they appear.
 *
 * A subscriber must hear every publisher replica. nng resolves a host name
 * once and dials its first address only, so the subscriber resolves names
 * itself: every address of every tcp:// name gets its own dialer, and the
 * names are resolved again every TT_BUS_RESOLVE_MS (every
 * TT_BUS_RETRY_MS while one does not resolve), dialling new addresses and
 * closing the dialers of vanished ones. A Kubernetes headless Service name
 * thus reaches every ready ingest pod, however they come and go.
 */
#include "tt/bus.h"
#include "tt/strbuf.h"
#include "tt/time.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <nng/nng.h>
#include <nng/protocol/pubsub0/pub.h>
#include <nng/protocol/pubsub0/sub.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define BUS_MAX_DIALERS 128
#define BUS_URL_MAX     300

typedef struct {
	char       url[BUS_URL_MAX];
	nng_dialer dialer;
	int        src;        /* index of the configured URL it comes from */
	bool       seen;
} bus_dialer;

struct tt_bus {
	nng_socket      sock;
	char           *urls;           /* SUB: the configured list */
	bus_dialer      dialers[BUS_MAX_DIALERS];
	int             ndialers;
	int64_t         next_resolve_ms;
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

/* Marks url wanted, dialling it when it is new. */
static void
bus_want(tt_bus *b, const char *url, int src)
{
	for (int i = 0; i < b->ndialers; i++)
		if (strcmp(b->dialers[i].url, url) == 0) {
			b->dialers[i].seen = true;
			return;
		}
	if (b->ndialers == BUS_MAX_DIALERS || strlen(url) >= BUS_URL_MAX)
		return;
	bus_dialer *d = &b->dialers[b->ndialers];
	if (nng_dialer_create(&d->dialer, b->sock, url) != 0)
		return;
	if (nng_dialer_start(d->dialer, NNG_FLAG_NONBLOCK) != 0) {
		nng_dialer_close(d->dialer);
		return;
	}
	snprintf(d->url, sizeof(d->url), "%s", url);
	d->src = src;
	d->seen = true;
	b->ndialers++;
}

/*
 * Splits "tcp://host:port" (host may be "[v6]"); false for other schemes or
 * a host that is already an address.
 */
static bool
bus_tcp_name(const char *url, char *host, size_t hostlen, char *port, size_t portlen)
{
	const char *h, *colon;
	size_t n;
	unsigned char addr[16];

	if (strncmp(url, "tcp://", 6) != 0)
		return false;
	h = url + 6;
	if (*h == '[')
		return false;   /* an IPv6 literal */
	if ((colon = strrchr(h, ':')) == NULL || (n = (size_t)(colon - h)) == 0 || n >= hostlen ||
	    strlen(colon + 1) == 0 || strlen(colon + 1) >= portlen)
		return false;
	memcpy(host, h, n);
	host[n] = '\0';
	snprintf(port, portlen, "%s", colon + 1);
	return strcmp(host, "*") != 0 && inet_pton(AF_INET, host, addr) != 1;
}

/* Resolves every name again; dials what is new, closes what vanished. */
static void
bus_resolve(tt_bus *b)
{
	bool failed = false;
	char url[BUS_URL_MAX], host[256], port[16];

	for (int i = 0; i < b->ndialers; i++)
		b->dialers[i].seen = false;
	int src = 0;
	for (const char *p = b->urls; *p != '\0'; src++) {
		size_t n = strcspn(p, ",");
		if (n > 0 && n < sizeof(url)) {
			struct addrinfo hints, *res = NULL;
			memcpy(url, p, n);
			url[n] = '\0';
			memset(&hints, 0, sizeof(hints));
			hints.ai_family = AF_UNSPEC;
			hints.ai_socktype = SOCK_STREAM;
			if (!bus_tcp_name(url, host, sizeof(host), port, sizeof(port))) {
				bus_want(b, url, src);
			} else if (getaddrinfo(host, port, &hints, &res) != 0) {
				/* Keep what the name gave before: a DNS hiccup is not a vanished replica. */
				failed = true;
				for (int i = 0; i < b->ndialers; i++)
					if (b->dialers[i].src == src)
						b->dialers[i].seen = true;
			} else {
				for (struct addrinfo *a = res; a != NULL; a = a->ai_next) {
					char ip[INET6_ADDRSTRLEN], u[BUS_URL_MAX];
					const void *in = a->ai_family == AF_INET6 ?
					    (const void *)&((struct sockaddr_in6 *)a->ai_addr)->sin6_addr :
					    (const void *)&((struct sockaddr_in *)a->ai_addr)->sin_addr;
					if (inet_ntop(a->ai_family, in, ip, sizeof(ip)) == NULL)
						continue;
					snprintf(u, sizeof(u), a->ai_family == AF_INET6 ? "tcp://[%s]:%s" :
					    "tcp://%s:%s", ip, port);
					bus_want(b, u, src);
				}
				freeaddrinfo(res);
			}
		}
		p += n;
		if (*p == ',')
			p++;
	}
	for (int i = 0; i < b->ndialers;) {
		if (b->dialers[i].seen) {
			i++;
			continue;
		}
		nng_dialer_close(b->dialers[i].dialer);
		b->dialers[i] = b->dialers[--b->ndialers];
	}
	b->next_resolve_ms = tt_mono_ms() + (failed ? TT_BUS_RETRY_MS : TT_BUS_RESOLVE_MS);
}

tt_err
tt_bus_sub_open(tt_bus **out, const char *urls, const char *prefix,
    char *err, size_t errlen)
{
	tt_bus *b = calloc(1, sizeof(*b));
	int rv;

	if (b == NULL || (b->urls = strdup(urls)) == NULL) {
		free(b);
		return TT_ENOMEM;
	}
	if ((rv = nng_sub0_open(&b->sock)) != 0) {
		free(b->urls);
		free(b);
		return tt_seterr(err, errlen, TT_EBUS, "nng sub: %s", nng_strerror(rv));
	}
	nng_setopt(b->sock, NNG_OPT_SUB_SUBSCRIBE, prefix, strlen(prefix));
	nng_setopt_size(b->sock, NNG_OPT_RECVMAXSZ, TT_BUS_MAX_MSG);
	/*
	 * nng keeps 128 received messages by default and drops beyond that: a
	 * short stall of the receiving thread lost updates at a fraction of a
	 * core. Lossy stays lossy, but only under real overload (as on PUB).
	 */
	nng_setopt_int(b->sock, NNG_OPT_RECVBUF, TT_BUS_SENDBUF);
	/* A malformed address is a configuration error: refuse it now. */
	for (const char *p = urls; *p != '\0';) {
		size_t n = strcspn(p, ",");
		char url[BUS_URL_MAX];
		nng_url *u = NULL;
		if (n >= sizeof(url)) {
			tt_bus_close(b);
			return tt_seterr(err, errlen, TT_EBUS, "nng address longer than %d characters",
			    BUS_URL_MAX - 1);
		}
		memcpy(url, p, n);
		url[n] = '\0';
		if (n > 0 && (rv = nng_url_parse(&u, url)) != 0) {
			tt_bus_close(b);
			return tt_seterr(err, errlen, TT_EBUS, "nng address %s: %s", url, nng_strerror(rv));
		}
		nng_url_free(u);
		p += n;
		if (*p == ',')
			p++;
	}
	bus_resolve(b);
	*out = b;
	return TT_OK;
}

int
tt_bus_dialers(const tt_bus *b, char urls[][TT_BUS_ADDR_MAX], int max)
{
	int n = 0;
	for (int i = 0; i < b->ndialers && n < max; i++)
		snprintf(urls[n++], TT_BUS_ADDR_MAX, "%s", b->dialers[i].url);
	return n;
}

void
tt_bus_close(tt_bus *b)
{
	if (b == NULL)
		return;
	nng_close(b->sock);
	free(b->urls);
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
	int64_t deadline = timeout_ms < 0 ? INT64_MAX : tt_mono_ms() + timeout_ms;
	for (;;) {
		int64_t now = tt_mono_ms();
		if (b->urls != NULL && now >= b->next_resolve_ms)
			bus_resolve(b);
		/* Wake up for the next resolution, however long the caller waits. */
		int64_t until = b->urls != NULL && b->next_resolve_ms < deadline ? b->next_resolve_ms : deadline;
		int64_t wait = until == INT64_MAX ? -1 : until > now ? until - now : 0;
		nng_setopt_ms(b->sock, NNG_OPT_RECVTIMEO, wait < 0 ? NNG_DURATION_INFINITE : (nng_duration)wait);
		if ((rv = nng_recvmsg(b->sock, &m, 0)) == 0)
			break;
		if (rv != NNG_ETIMEDOUT || tt_mono_ms() >= deadline)
			return rv == NNG_ETIMEDOUT ? TT_ETIMEDOUT : rv == NNG_ECLOSED ? TT_ECLOSED : TT_EBUS;
	}
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
