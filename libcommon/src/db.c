/*
 * db.c - a fixed pool of libpq connections.
 *
 * Slots are opened lazily and re-opened when found dead, so the pool heals
 * itself after a PostgreSQL restart: the statement that meets the dead
 * connection fails (the caller decides whether to retry), the connection is
 * released as broken, and the next acquire reconnects it.
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

struct tt_db {
	pthread_mutex_t mtx;
	pthread_cond_t  cv;
	int             nslots;
	db_slot        *slots;
	char            host[TT_CFG_STR], port[16], name[TT_CFG_STR];
	char            user[TT_CFG_STR], password[TT_CFG_STR];
};

tt_err
tt_db_new(tt_db **out, const tt_config *cfg, char *err, size_t errlen)
{
	tt_db *db = calloc(1, sizeof(*db));
	pthread_condattr_t ca;

	if (db == NULL)
		return tt_seterr(err, errlen, TT_ENOMEM, "db pool: out of memory");
	db->nslots = cfg->db_pool_max;
	db->slots = calloc((size_t)db->nslots, sizeof(db_slot));
	if (db->slots == NULL) {
		free(db);
		return tt_seterr(err, errlen, TT_ENOMEM, "db pool: out of memory");
	}
	pthread_mutex_init(&db->mtx, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&db->cv, &ca);
	pthread_condattr_destroy(&ca);
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
	pthread_cond_destroy(&db->cv);
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

tt_err
tt_db_acquire(tt_db *db, PGconn **conn, int timeout_ms, char *err, size_t errlen)
{
	struct timespec deadline;
	db_slot *slot = NULL;

	deadline = tt_timespec_in(CLOCK_MONOTONIC, timeout_ms);

	pthread_mutex_lock(&db->mtx);
	for (;;) {
		/* Prefer an open connection, then an empty slot. */
		for (int i = 0; i < db->nslots && slot == NULL; i++)
			if (!db->slots[i].in_use && db->slots[i].conn != NULL)
				slot = &db->slots[i];
		for (int i = 0; i < db->nslots && slot == NULL; i++)
			if (!db->slots[i].in_use)
				slot = &db->slots[i];
		if (slot != NULL)
			break;
		if (pthread_cond_timedwait(&db->cv, &db->mtx, &deadline) == ETIMEDOUT) {
			pthread_mutex_unlock(&db->mtx);
			return tt_seterr(err, errlen, TT_ETIMEDOUT,
			    "postgres: no free connection within %d ms", timeout_ms);
		}
	}
	slot->in_use = 1;
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
		slot->in_use = 0;
		pthread_cond_signal(&db->cv);
		pthread_mutex_unlock(&db->mtx);
		return TT_ECONN;
	}
	*conn = slot->conn;
	return TT_OK;
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
			db->slots[i].in_use = 0;
			break;
		}
	}
	pthread_cond_signal(&db->cv);
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
