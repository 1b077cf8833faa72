/* ticketsyncd: argument parsing and wiring only. */
#include <stdio.h>
#include <string.h>

#include "ticketsync/log.h"

static void
usage(FILE *out)
{
	fprintf(out,
	    "usage: ticketsyncd [-c FILE] [--help] [--version]\n"
	    "\n"
	    "Watches the detections and tickets collections and pushes ticket fields to\n"
	    "ExtraHop. NOT BUILT YET: this binary only answers --help and --version.\n");
}

int
main(int argc, char **argv)
{
	log_init("ticketsyncd", LOG_LEVEL_INFO);
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--version") == 0) {
			printf("ticketsyncd %s\n", TICKETSYNC_VERSION);
			return 0;
		}
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return 0;
		}
	}
	usage(stderr);
	log_errorx("the daemon is not built yet");
	return 2;
}
