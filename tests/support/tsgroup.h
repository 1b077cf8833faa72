/*
 * tsgroup: the MongoDB one cmocka test program shares. tsgroup_setup and
 * tsgroup_teardown are the group fixtures (cmocka_run_group_tests(tests,
 * tsgroup_setup, tsgroup_teardown)), so the server starts once per program and
 * every test reaches it through tsgroup_mongo(), each on a database of its own
 * (tsscene_setup, tsstore_setup). The signatures are cmocka's; the code is free of
 * it: 0, or -1 with the reason on stderr.
 */
#ifndef TICKETSYNC_TESTS_TSGROUP_H
#define TICKETSYNC_TESTS_TSGROUP_H

#include "tsmongo.h"

/* Start (or attach to) the server. */
int tsgroup_setup(void **state);
/* Stop it (if it started) and call mongoc_cleanup(): every test's clients are gone
 * by then. cmocka runs the group teardown even when the group setup failed. */
int tsgroup_teardown(void **state);
/* The program's server (NULL before tsgroup_setup). */
tsmongo_t *tsgroup_mongo(void);

#endif
