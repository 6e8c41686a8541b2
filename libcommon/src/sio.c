/*
 * sio.c - Engine.IO 4 payloads and Socket.IO 5 packets: see tt/sio.h.
 */
#include "tt/sio.h"

#include <string.h>

bool
tt_eio_next(const char *payload, size_t len, size_t *pos, const char **pkt, size_t *pkt_len)
{
	size_t start = *pos;

	if (start > len)
		return false;
	const char *sep = memchr(payload + start, TT_EIO_SEPARATOR, len - start);
	size_t end = sep != NULL ? (size_t)(sep - payload) : len;
	*pkt = payload + start;
	*pkt_len = end - start;
	/*
	 * After the last packet *pos is past the end, so the next call stops; a
	 * trailing separator leaves *pos at len, so an empty last packet follows.
	 */
	*pos = sep != NULL ? end + 1 : len + 1;
	return true;
}

static tt_err
sio_fail(tt_sio_packet *p, const char **why, const char *reason, tt_err e)
{
	cJSON_Delete(p->json);
	p->json = NULL;
	*why = reason;
	return e;
}

tt_err
tt_sio_parse(const char *s, size_t len, tt_sio_packet *p, const char **why)
{
	size_t i = 0;

	memset(p, 0, sizeof(*p));
	*why = NULL;
	if (len == 0 || s[0] < '0' || s[0] > '6')
		return sio_fail(p, why, "unknown packet type", TT_EPARSE);
	p->type = s[0] - '0';
	i = 1;
	if (p->type == TT_SIO_BINARY_EVENT || p->type == TT_SIO_BINARY_ACK)
		return sio_fail(p, why, "binary packets are not supported", TT_EPARSE);
	if (p->type == TT_SIO_CONNECT_ERROR)
		return sio_fail(p, why, "CONNECT_ERROR is sent by servers only", TT_EPARSE);

	p->nsp = "/";
	p->nsp_len = 1;
	if (i < len && s[i] == '/') {
		size_t start = i;
		while (i < len && s[i] != ',')
			i++;
		p->nsp = s + start;
		p->nsp_len = i - start;
		if (p->nsp_len > TT_SIO_NSP_MAX)
			return sio_fail(p, why, "namespace too long", TT_ETOOBIG);
		if (memchr(p->nsp, '\0', p->nsp_len) != NULL)
			return sio_fail(p, why, "NUL in the namespace", TT_EPARSE);
		if (i < len)
			i++;   /* the ',' */
	}

	if (i < len && s[i] >= '0' && s[i] <= '9') {
		uint64_t ack = 0;
		size_t digits = 0;
		while (i < len && s[i] >= '0' && s[i] <= '9') {
			if (++digits > 15)
				return sio_fail(p, why, "acknowledgement id too long", TT_EPARSE);
			ack = ack * 10 + (uint64_t)(s[i] - '0');
			i++;
		}
		p->has_ack = true;
		p->ack = ack;
	}

	if (i < len) {
		const char *end = NULL;
		/* cJSON skips every byte up to 0x20 before a value; JSON allows four. */
		for (size_t k = i; k < len && (unsigned char)s[k] <= 0x20; k++)
			if (s[k] != ' ' && s[k] != '\t' && s[k] != '\r' && s[k] != '\n')
				return sio_fail(p, why, "control character before the JSON payload", TT_EPARSE);
		p->json = cJSON_ParseWithLengthOpts(s + i, len - i, &end, false);
		if (p->json == NULL)
			return sio_fail(p, why, "payload is not JSON", TT_EPARSE);
		/* Only whitespace may follow the value. */
		for (; end < s + len; end++)
			if (*end != ' ' && *end != '\t' && *end != '\r' && *end != '\n')
				return sio_fail(p, why, "data after the JSON payload", TT_EPARSE);
	}

	switch (p->type) {
	case TT_SIO_CONNECT:
		if (p->json != NULL && !cJSON_IsObject(p->json))
			return sio_fail(p, why, "CONNECT payload must be an object", TT_EPARSE);
		if (p->has_ack)
			return sio_fail(p, why, "CONNECT takes no acknowledgement id", TT_EPARSE);
		break;
	case TT_SIO_DISCONNECT:
		if (p->json != NULL || p->has_ack)
			return sio_fail(p, why, "DISCONNECT takes no payload", TT_EPARSE);
		break;
	case TT_SIO_EVENT: {
		const cJSON *first = p->json != NULL ? cJSON_GetArrayItem(p->json, 0) : NULL;
		if (!cJSON_IsArray(p->json) || !cJSON_IsString(first))
			return sio_fail(p, why, "EVENT payload must be an array starting with the event name",
			    TT_EPARSE);
		p->event = first->valuestring;
		break;
	}
	case TT_SIO_ACK:
		if (!p->has_ack || !cJSON_IsArray(p->json))
			return sio_fail(p, why, "ACK needs an id and an array payload", TT_EPARSE);
		break;
	}
	return TT_OK;
}

void
tt_sio_packet_fini(tt_sio_packet *p)
{
	cJSON_Delete(p->json);
	p->json = NULL;
}

bool
tt_sio_nsp_is(const tt_sio_packet *p, const char *nsp)
{
	size_t n = strlen(nsp);
	return p->nsp_len == n && memcmp(p->nsp, nsp, n) == 0;
}
