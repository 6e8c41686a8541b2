/*
 * db.c - a fixed pool of libpq connections.
 *
 * Slots are opened lazily and re-opened when found dead, so the pool heals
 * itself after a PostgreSQL restart: the statement that meets the dead
 * connection fails (the caller decides whether to retry), the connection is
 * released as broken, and the next acquire reconnects it.
 *
 * Waiters are served first come, first served: a release hands its slot to
 * the longest waiting acquire (each waiter sleeps on its own condition
 * variable) instead of letting every thread race for it, so under load the
 * wait for a connection is the queue's length, not luck, and the slowest
 * requests stay close to the typical one.
 */
#include "tt/db.h"
#include "tt/log.h"
#include "tt/time.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
	PGconn *conn;
	int     in_use;
	int     broken;
} db_slot;

/* An acquire waiting for a slot, in the pool's FIFO (on its stack). */
typedef struct db_waiter {
	pthread_cond_t    cv;
	db_slot          *slot;   /* set by the release that hands it over */
	struct db_waiter *next;
} db_waiter;

struct tt_db {
	pthread_mutex_t    mtx;
	pthread_condattr_t ca;    /* CLOCK_MONOTONIC, for the waiters' cv */
	db_waiter         *head, *tail;
	int                nslots;
	db_slot           *slots;
	char            host[TT_CFG_STR], port[16], name[TT_CFG_STR];
	char            user[TT_CFG_STR], password[TT_CFG_STR];
};

tt_err
tt_db_new(tt_db **out, const tt_config *cfg, char *err, size_t errlen)
{
	tt_db *db = calloc(1, sizeof(*db));

	if (db == NULL)
		return tt_seterr(err, errlen, TT_ENOMEM, "db pool: out of memory");
	db->nslots = cfg->db_pool_max;
	db->slots = calloc((size_t)db->nslots, sizeof(db_slot));
	if (db->slots == NULL) {
		free(db);
		return tt_seterr(err, errlen, TT_ENOMEM, "db pool: out of memory");
	}
	pthread_mutex_init(&db->mtx, NULL);
	pthread_condattr_init(&db->ca);
	pthread_condattr_setclock(&db->ca, CLOCK_MONOTONIC);
	snprintf(db->host, sizeof(db->host), "%s", cfg->db_host);
	snprintf(db->port, sizeof(db->port), "%d", cfg->db_port);
	snprintf(db->name, sizeof(db->name), "%s", cfg->db_name);
	snprintf(db->user, sizeof(db->user), "%s", cfg->db_user);
	snprintf(db->password, sizeof(db->password), "%s", cfg->db_password);
	*out = db;
	return TT_OK;
}

void
tt_db_free(tt_db *db)
{
	if (db == NULL)
		return;
	for (int i = 0; i < db->nslots; i++)
		if (db->slots[i].conn != NULL)
			PQfinish(db->slots[i].conn);
	free(db->slots);
	pthread_mutex_destroy(&db->mtx);
	pthread_condattr_destroy(&db->ca);
	free(db);
}

static PGconn *
db_connect(tt_db *db, char *err, size_t errlen)
{
	const char *keys[] = { "host", "port", "dbname", "user", "password",
		"connect_timeout", "application_name", NULL };
	/* libpq ignores a keyword whose value is empty (no password set). */
	const char *vals[] = { db->host, db->port, db->name, db->user,
		db->password, "5", "tickettoken-analytics", NULL };
	PGconn *c;

	c = PQconnectdbParams(keys, vals, 0);
	if (c == NULL) {
		tt_seterr(err, errlen, TT_ENOMEM, "postgres: out of memory");
		return NULL;
	}
	if (PQstatus(c) != CONNECTION_OK) {
		char msg[256];
		snprintf(msg, sizeof(msg), "%s", PQerrorMessage(c));
		msg[strcspn(msg, "\n")] = '\0';
		tt_seterr(err, errlen, TT_ECONN, "postgres %s:%s: %s", db->host, db->port, msg);
		PQfinish(c);
		return NULL;
	}
	return c;
}

/* A slot nobody uses, open connections first; NULL when all are taken. Lock held. */
static db_slot *
slot_free(tt_db *db)
{
	db_slot *empty = NULL;

	for (int i = 0; i < db->nslots; i++) {
		if (db->slots[i].in_use)
			continue;
		if (db->slots[i].conn != NULL)
			return &db->slots[i];
		if (empty == NULL)
			empty = &db->slots[i];
	}
	return empty;
}

/* Gives slot back: to the first waiter if any (it stays in use), else free. Lock held. */
static void
slot_put(tt_db *db, db_slot *slot)
{
	db_waiter *w = db->head;

	if (w == NULL) {
		slot->in_use = 0;
		return;
	}
	db->head = w->next;
	if (db->head == NULL)
		db->tail = NULL;
	w->slot = slot;
	pthread_cond_signal(&w->cv);
}

/* Takes w out of the queue (it timed out). Lock held. */
static void
waiter_remove(tt_db *db, db_waiter *w)
{
	db_waiter **pp = &db->head, *prev = NULL;

	while (*pp != NULL && *pp != w) {
		prev = *pp;
		pp = &(*pp)->next;
	}
	if (*pp == NULL)
		return;
	*pp = w->next;
	if (db->tail == w)
		db->tail = prev;
}

tt_err
tt_db_acquire(tt_db *db, PGconn **conn, int timeout_ms, char *err, size_t errlen)
{
	struct timespec deadline;
	db_slot *slot = NULL;

	pthread_mutex_lock(&db->mtx);
	/* Nobody queued before us: a free slot is ours. */
	if (db->head == NULL && (slot = slot_free(db)) != NULL)
		slot->in_use = 1;
	if (slot == NULL) {
		db_waiter w = { .slot = NULL, .next = NULL };
		pthread_cond_init(&w.cv, &db->ca);
		if (db->tail != NULL)
			db->tail->next = &w;
		else
			db->head = &w;
		db->tail = &w;
		deadline = tt_timespec_in(CLOCK_MONOTONIC, timeout_ms);
		while (w.slot == NULL) {
			if (pthread_cond_timedwait(&w.cv, &db->mtx, &deadline) == ETIMEDOUT &&
			    w.slot == NULL) {
				waiter_remove(db, &w);
				pthread_mutex_unlock(&db->mtx);
				pthread_cond_destroy(&w.cv);
				return tt_seterr(err, errlen, TT_ETIMEDOUT,
				    "postgres: no free connection within %d ms", timeout_ms);
			}
		}
		slot = w.slot;   /* handed over still marked in use */
		pthread_cond_destroy(&w.cv);
	}
	pthread_mutex_unlock(&db->mtx);

	/* Connect outside the lock: it may take the connect timeout. */
	if (slot->conn != NULL && (slot->broken || PQstatus(slot->conn) != CONNECTION_OK)) {
		PQfinish(slot->conn);
		slot->conn = NULL;
	}
	slot->broken = 0;
	if (slot->conn == NULL)
		slot->conn = db_connect(db, err, errlen);
	if (slot->conn == NULL) {
		pthread_mutex_lock(&db->mtx);
		slot_put(db, slot);
		pthread_mutex_unlock(&db->mtx);
		return TT_ECONN;
	}
	*conn = slot->conn;
	return TT_OK;
}

int
tt_db_waiting(tt_db *db)
{
	int n = 0;

	pthread_mutex_lock(&db->mtx);
	for (const db_waiter *w = db->head; w != NULL; w = w->next)
		n++;
	pthread_mutex_unlock(&db->mtx);
	return n;
}

void
tt_db_release(tt_db *db, PGconn *conn, int broken)
{
	if (conn == NULL)
		return;
	pthread_mutex_lock(&db->mtx);
	for (int i = 0; i < db->nslots; i++) {
		if (db->slots[i].conn == conn) {
			/* A connection left inside a transaction is useless to the next user. */
			if (PQtransactionStatus(conn) != PQTRANS_IDLE)
				broken = 1;
			db->slots[i].broken = broken || PQstatus(conn) != CONNECTION_OK;
			slot_put(db, &db->slots[i]);
			break;
		}
	}
	pthread_mutex_unlock(&db->mtx);
}

/* Turns a finished PGresult into TT_OK / TT_EDB / TT_ECONN (see tt_db_exec). */
static tt_err
db_result(PGconn *conn, PGresult *r, PGresult **res, char *err, size_t errlen)
{
	ExecStatusType st = r != NULL ? PQresultStatus(r) : PGRES_FATAL_ERROR;

	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
		if (res != NULL)
			*res = r;
		else
			PQclear(r);
		return TT_OK;
	}
	if (r == NULL || PQstatus(conn) != CONNECTION_OK) {
		char msg[200];
		snprintf(msg, sizeof(msg), "%s", PQerrorMessage(conn));
		msg[strcspn(msg, "\n")] = '\0';
		PQclear(r);
		return tt_seterr(err, errlen, TT_ECONN, "postgres connection lost: %s", msg);
	}
	const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
	const char *msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
	tt_seterr(err, errlen, TT_EDB, "%s: %s", state ? state : "XX000", msg ? msg : "error");
	PQclear(r);
	return TT_EDB;
}

tt_err
tt_db_exec(PGconn *conn, const char *sql, int nparams,
    const char *const *params, PGresult **res, char *err, size_t errlen)
{
	return db_result(conn, PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0),
	    res, err, errlen);
}

tt_err
tt_db_exec_prepared(PGconn *conn, const char *name, const char *sql,
    int nparams, const char *const *params, PGresult **res, char *err, size_t errlen)
{
	PGresult *r = PQexecPrepared(conn, name, nparams, params, NULL, NULL, 0);
	const char *state = r != NULL ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;

	/* 26000 invalid_sql_statement_name: not prepared on this connection yet. */
	if (state == NULL || strcmp(state, "26000") != 0)
		return db_result(conn, r, res, err, errlen);
	PQclear(r);
	tt_err e = db_result(conn, PQprepare(conn, name, sql, nparams, NULL), NULL, err, errlen);
	if (e != TT_OK)
		return e;
	return db_result(conn, PQexecPrepared(conn, name, nparams, params, NULL, NULL, 0),
	    res, err, errlen);
}

tt_err
tt_db_ping(tt_db *db, double *latency_ms, char *err, size_t errlen)
{
	PGconn *c;
	double t0 = tt_mono_sec();
	tt_err e = tt_db_acquire(db, &c, 2000, err, errlen);

	if (e != TT_OK)
		return e;
	e = tt_db_exec(c, "SELECT 1", 0, NULL, NULL, err, errlen);
	tt_db_release(db, c, e == TT_ECONN);
	if (e == TT_OK && latency_ms != NULL)
		*latency_ms = (tt_mono_sec() - t0) * 1000.0;
	return e;
}
