/* ticketsyncctl: argument parsing and wiring only. */
#include <stdio.h>
#include <string.h>

#include "ticketsync/log.h"

static void
usage(FILE *out)
{
	fprintf(out,
	    "usage: ticketsyncctl [--help] [--version] COMMAND ...\n"
	    "\n"
	    "Commands (NOT BUILT YET): init, backfill, import-tickets, status, audit,\n"
	    "replay-parked.\n");
}

int
main(int argc, char **argv)
{
	log_init("ticketsyncctl", LOG_LEVEL_INFO);
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--version") == 0) {
			printf("ticketsyncctl %s\n", TICKETSYNC_VERSION);
			return 0;
		}
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return 0;
		}
	}
	usage(stderr);
	return 2;
}
