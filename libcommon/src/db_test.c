/*
 * db_test.c - the connection pool against a real PostgreSQL on
 * DB_HOST:DB_PORT (tt_config_load's defaults): a pool of one connection
 * serves waiting callers in the order they arrived, a caller that times out
 * leaves the queue without disturbing it, and a statement runs on what the
 * pool hands out. Skipped without a PostgreSQL, failed under
 * TT_REQUIRE_SERVERS.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tt/db.h"

#define WAITERS 4

typedef struct {
	tt_db          *db;
	int             id, timeout_ms;
	tt_err          result;
	pthread_mutex_t *mtx;
	int             *order, *norder;
} waiter_arg;

/* A pool of one connection, or NULL (test skipped) without a server. */
static tt_db *
pool_of_one(void)
{
	tt_config cfg;
	tt_db *db = NULL;
	PGconn *c = NULL;
	char err[256];

	setenv("DB_POOL_MAX", "1", 1);
	if (tt_config_load(&cfg, err, sizeof(err)) != TT_OK)
		fail_msg("configuration: %s", err);
	assert_int_equal(tt_db_new(&db, &cfg, err, sizeof(err)), TT_OK);
	if (tt_db_acquire(db, &c, 2000, err, sizeof(err)) != TT_OK) {
		tt_db_free(db);
		if (getenv("TT_REQUIRE_SERVERS") != NULL)
			fail_msg("no PostgreSQL although TT_REQUIRE_SERVERS is set: %s", err);
		return NULL;
	}
	tt_db_release(db, c, 0);
	return db;
}

static void *
waiter_main(void *p)
{
	waiter_arg *a = p;
	PGconn *c = NULL;
	char err[256];

	a->result = tt_db_acquire(a->db, &c, a->timeout_ms, err, sizeof(err));
	if (a->result != TT_OK)
		return NULL;
	pthread_mutex_lock(a->mtx);
	a->order[(*a->norder)++] = a->id;
	pthread_mutex_unlock(a->mtx);
	tt_db_release(a->db, c, 0);
	return NULL;
}

static void
wait_for_waiting(tt_db *db, int n)
{
	struct timespec ms = { 0, 1000000 };

	for (int i = 0; i < 5000 && tt_db_waiting(db) != n; i++)
		nanosleep(&ms, NULL);
	assert_int_equal(tt_db_waiting(db), n);
}

/*
 * Four callers queue behind a held connection; the second gives up after
 * 500 ms. The others get the connection in the order they came.
 */
static void
test_live_waiters_are_served_in_arrival_order(void **state)
{
	(void)state;
	tt_db *db = pool_of_one();
	pthread_mutex_t mtx = PTHREAD_MUTEX_INITIALIZER;
	pthread_t th[WAITERS];
	waiter_arg arg[WAITERS];
	int order[WAITERS], norder = 0;
	PGconn *held = NULL;
	char err[256];

	if (db == NULL)
		skip();
	assert_int_equal(tt_db_acquire(db, &held, 1000, err, sizeof(err)), TT_OK);
	for (int i = 0; i < WAITERS; i++) {
		arg[i] = (waiter_arg){ .db = db, .id = i, .timeout_ms = i == 1 ? 500 : 10000,
			.mtx = &mtx, .order = order, .norder = &norder };
		assert_int_equal(pthread_create(&th[i], NULL, waiter_main, &arg[i]), 0);
		wait_for_waiting(db, i + 1);
	}
	pthread_join(th[1], NULL);   /* timed out: out of the queue */
	assert_int_equal(arg[1].result, TT_ETIMEDOUT);
	assert_int_equal(tt_db_waiting(db), WAITERS - 1);

	tt_db_release(db, held, 0);
	for (int i = 0; i < WAITERS; i++)
		if (i != 1)
			pthread_join(th[i], NULL);
	assert_int_equal(norder, WAITERS - 1);
	assert_int_equal(order[0], 0);
	assert_int_equal(order[1], 2);
	assert_int_equal(order[2], 3);
	assert_int_equal(tt_db_waiting(db), 0);

	/* The connection still works after all that handing over. */
	PGresult *res = NULL;
	assert_int_equal(tt_db_acquire(db, &held, 1000, err, sizeof(err)), TT_OK);
	assert_int_equal(tt_db_exec(held, "SELECT 41 + 1", 0, NULL, &res, err, sizeof(err)), TT_OK);
	assert_string_equal(PQgetvalue(res, 0, 0), "42");
	PQclear(res);
	tt_db_release(db, held, 0);
	tt_db_free(db);
}

/* With nothing released, a caller gets TT_ETIMEDOUT after its timeout, and no more. */
static void
test_live_acquire_times_out(void **state)
{
	(void)state;
	tt_db *db = pool_of_one();
	PGconn *held = NULL, *c = NULL;
	char err[256];
	struct timespec t0, t1;

	if (db == NULL)
		skip();
	assert_int_equal(tt_db_acquire(db, &held, 1000, err, sizeof(err)), TT_OK);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(tt_db_acquire(db, &c, 150, err, sizeof(err)), TT_ETIMEDOUT);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
	assert_true(ms >= 149.0);
	assert_non_null(strstr(err, "no free connection within 150 ms"));
	assert_int_equal(tt_db_waiting(db), 0);
	tt_db_release(db, held, 0);
	tt_db_free(db);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_live_waiters_are_served_in_arrival_order),
		cmocka_unit_test(test_live_acquire_times_out),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
