/*
 * tt/db.h - a PostgreSQL (libpq) connection pool.
 *
 * A fixed-size pool of PGconn, handed out one per caller. tt_db_acquire()
 * blocks up to timeout_ms for a free connection, and checks that a connection
 * it hands out is alive, reconnecting it if the server restarted (so callers
 * see at most one failed statement per restart, never a dead pool).
 * Thread-safe. Queries are always parameterised (PQexecParams); the helpers
 * below never build SQL from values.
 */
#ifndef TT_DB_H
#define TT_DB_H

#include <libpq-fe.h>
#include <stddef.h>

#include "tt/config.h"
#include "tt/error.h"

typedef struct tt_db tt_db;

/* Creates a pool of cfg->db_pool_max connections (opened lazily). */
tt_err tt_db_new(tt_db **out, const tt_config *cfg, char *err, size_t errlen);
void tt_db_free(tt_db *db);

/*
 * Borrows a live connection; TT_ETIMEDOUT or TT_ECONN with detail in err.
 * When every connection is in use, callers wait in arrival order (first
 * come, first served) for at most timeout_ms.
 */
tt_err tt_db_acquire(tt_db *db, PGconn **conn, int timeout_ms, char *err, size_t errlen);

/* How many tt_db_acquire calls are waiting for a connection right now. */
int tt_db_waiting(tt_db *db);

/*
 * Returns a connection. broken=1 when the caller saw a connection-level
 * failure: the connection is reset before its next use.
 */
void tt_db_release(tt_db *db, PGconn *conn, int broken);

/*
 * Runs one parameterised statement on a borrowed connection. On success
 * *res holds the PGresult (PQclear it; may be NULL-out for commands whose
 * result is not wanted). Errors: TT_EDB with the server's message in err, or
 * TT_ECONN when the connection is gone.
 */
tt_err tt_db_exec(PGconn *conn, const char *sql, int nparams,
    const char *const *params, PGresult **res, char *err, size_t errlen);

/*
 * Like tt_db_exec, through a named prepared statement: the first use on a
 * connection prepares sql under name (and after a reconnection, when the
 * server answers that the statement does not exist), later uses only
 * execute it, so a hot statement is planned once per connection instead of
 * on every call. name must be unique per distinct sql in the process.
 */
tt_err tt_db_exec_prepared(PGconn *conn, const char *name, const char *sql,
    int nparams, const char *const *params, PGresult **res, char *err, size_t errlen);

/* SELECT 1 round-trip; *latency_ms set on success. */
tt_err tt_db_ping(tt_db *db, double *latency_ms, char *err, size_t errlen);

#endif
