/*
 * tt/amqp.h - RabbitMQ connections over rabbitmq-c.
 *
 * A tt_amqp is one connection with one channel (1), opened from an
 * amqp://user:pass@host:port/vhost URL. It is not thread-safe. On any
 * connection or channel error the caller frees it and opens a new one
 * (tt_amqp_open again): rabbitmq-c connections do not recover in place, and
 * unacked deliveries of the old one are redelivered by the broker.
 */
#ifndef TT_AMQP_H
#define TT_AMQP_H

#include <amqp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tt/error.h"

typedef struct tt_amqp tt_amqp;

/* Opens, logs in, opens channel 1. heartbeat in seconds (0 = off). */
tt_err tt_amqp_open(tt_amqp **out, const char *url, int heartbeat,
    char *err, size_t errlen);
void tt_amqp_close(tt_amqp *a);

/*
 * Marks a connection as failed so that tt_amqp_close() skips the close
 * handshake (which would wait for a reply that never comes).
 */
void tt_amqp_mark_broken(tt_amqp *a);

/* The raw connection state for rabbitmq-c calls on channel 1. */
amqp_connection_state_t tt_amqp_conn(tt_amqp *a);

/* Converts the last RPC reply into TT_OK or TT_EAMQP with detail in err. */
tt_err tt_amqp_check(tt_amqp *a, const char *what, char *err, size_t errlen);

/* Declares a durable exchange of the given type ("topic", "fanout"). */
tt_err tt_amqp_declare_exchange(tt_amqp *a, const char *name, const char *type,
    char *err, size_t errlen);

/*
 * Declares a durable queue of type "classic" or "quorum" (x-queue-type);
 * dlx may be NULL. Binds it when exchange != NULL. Redeclaring an existing
 * queue with other arguments fails with a channel error (PRECONDITION_FAILED).
 */
tt_err tt_amqp_declare_queue(tt_amqp *a, const char *name, const char *type,
    const char *dlx, const char *exchange, const char *binding_key,
    char *err, size_t errlen);

/* Puts the channel in confirm mode (publisher confirms). */
tt_err tt_amqp_confirm_select(tt_amqp *a, char *err, size_t errlen);

/*
 * Publishes persistently with optional string headers (names[i]=values[i]).
 * In confirm mode each publish increments the count tt_amqp_wait_confirms()
 * waits for.
 */
tt_err tt_amqp_publish(tt_amqp *a, const char *exchange, const char *routing_key,
    const void *body, size_t len, int nheaders, const char *const *names,
    const char *const *values, char *err, size_t errlen);

/*
 * Waits until the broker has confirmed every publish so far, or timeout_ms.
 * TT_EAMQP when the broker nacks any of them.
 */
tt_err tt_amqp_wait_confirms(tt_amqp *a, int timeout_ms, char *err, size_t errlen);

/* Declared queue message count via passive declare; TT_EAMQP on error. */
tt_err tt_amqp_queue_depth(tt_amqp *a, const char *queue, uint32_t *messages,
    char *err, size_t errlen);

#endif
