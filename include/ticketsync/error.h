/*
 * error: ticketsync's one error scheme. A function that can fail returns false (or
 * -1, or NULL) and fills a bson_error_t: message for people, domain and code for
 * code. Errors ticketsync raises have domain ERROR_DOMAIN and a code from the enum of
 * the module that raised it (in that module's header); each module's codes start at
 * its base below, so a code alone names its module. Errors from libmongoc keep the
 * driver's domain and code (the server's codes are named in mongoerr.h); a libcurl or
 * system error is carried in the message. Running out of memory is not an error:
 * see xalloc.h.
 */
#ifndef TICKETSYNC_ERROR_H
#define TICKETSYNC_ERROR_H

#define ERROR_DOMAIN 0x7453 /* "tS" */

/* Each module's first code; its own enum (in its header) counts up from there. */
enum error_base {
	ERROR_BASE_STORE = 100, /* store.h: every store module (outbox, checkpoint, lease...) */
	ERROR_BASE_WATCHER = 120,
	ERROR_BASE_CONFIG = 200,
	ERROR_BASE_DETECTION = 220,
	ERROR_BASE_TICKET = 240,
	ERROR_BASE_FIELDS = 260,
	ERROR_BASE_STATUSMAP = 280,
	ERROR_BASE_TICKETSPEC = 300,
	ERROR_BASE_TICKETAPI = 320,
	ERROR_BASE_SWEEPPLAN = 340,
	ERROR_BASE_EXTRAHOP_API = 400,
	ERROR_BASE_EXTRAHOP = 420,
	ERROR_BASE_HTTPCLI = 440,
	ERROR_BASE_DEST_TICKET = 460,
	ERROR_BASE_CURLEV = 500,
	ERROR_BASE_PUSHER = 520,
	ERROR_BASE_PUSHRUN = 540,
	ERROR_BASE_DBWORKER = 560,
	ERROR_BASE_LEADER = 580,
	ERROR_BASE_HTTPD = 600,
	ERROR_BASE_WEBHOOK_HTTP = 620,
	ERROR_BASE_SDNOTIFY = 640,
	ERROR_BASE_SWEEPER = 660,
};

#endif
