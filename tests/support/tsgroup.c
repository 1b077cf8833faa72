/* tsgroup: one MongoDB for a whole test program; see tsgroup.h. */
#include "tsgroup.h"

#include <stdio.h>

static tsmongo_t *tsgroup_server;

int
tsgroup_setup(void **state)
{
	char err[512];

	(void)state;
	tsgroup_server = tsmongo_start(err, sizeof(err));
	if (tsgroup_server == NULL) {
		fprintf(stderr, "cannot start MongoDB: %s\n", err);
		return -1;
	}
	return 0;
}

int
tsgroup_teardown(void **state)
{
	(void)state;
	tsmongo_stop(tsgroup_server);
	tsgroup_server = NULL;
	mongoc_cleanup();
	return 0;
}

tsmongo_t *
tsgroup_mongo(void)
{
	return tsgroup_server;
}
