/*
 * stmt.c - the aggregator's prepared statements.
 *
 * A pass runs its statements inside one transaction, where
 * tt_db_exec_prepared's lazy preparation cannot work (its first EXECUTE
 * fails and aborts the transaction). So each connection is given every
 * statement up front, outside the transaction, once: agg_stmts_prepare()
 * asks pg_prepared_statements what is there (a reset connection has
 * nothing) and prepares the rest. Execution then goes through
 * tt_db_exec_prepared, which finds them prepared.
 */
#include "aggregator.h"

#include <stdio.h>
#include <string.h>

tt_err
agg_stmts_prepare(PGconn *conn, const agg_stmt *list, size_t n, char *err, size_t errlen)
{
	PGresult *have = NULL;
	tt_err e = tt_db_exec(conn, "SELECT name FROM pg_prepared_statements WHERE name LIKE 'agg\\_%'",
	    0, NULL, &have, err, errlen);

	if (e != TT_OK)
		return e;
	int rows = PQntuples(have);
	for (size_t i = 0; i < n && e == TT_OK; i++) {
		int found = 0;
		for (int r = 0; r < rows && !found; r++)
			found = strcmp(PQgetvalue(have, r, 0), list[i].name) == 0;
		if (found)
			continue;
		PGresult *res = PQprepare(conn, list[i].name, list[i].sql, list[i].nparams, NULL);
		if (res == NULL || PQresultStatus(res) != PGRES_COMMAND_OK) {
			const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
			e = tt_seterr(err, errlen, PQstatus(conn) == CONNECTION_OK ? TT_EDB : TT_ECONN,
			    "prepare %s: %s", list[i].name, msg ? msg : PQerrorMessage(conn));
		}
		PQclear(res);
	}
	PQclear(have);
	return e;
}

tt_err
agg_stmt_exec(PGconn *conn, const agg_stmt *s, const char *const *params,
    PGresult **res, char *err, size_t errlen)
{
	return tt_db_exec_prepared(conn, s->name, s->sql, s->nparams, params, res, err, errlen);
}
