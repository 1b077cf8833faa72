/*
 * log: one logfmt line per event on stderr, safe from any thread. Secrets are never
 * passed here.
 *
 *   ts=2026-12-08T04:00:00.123Z level=warn prog=ticketsyncd msg="pusher: ..." detection=7
 *
 * msg is always quoted (\" and \\ escaped, controls as spaces), so any logfmt parser
 * reads the text whole; the fields an operator filters on (detection=, ticket=,
 * http_status=) follow it when an event has them (log_event). Under journald
 * (JOURNAL_STREAM names our stderr, sd-daemon(3)) a line starts with its syslog
 * priority "<N>" and has no ts= (the journal stamps each line), so
 * `journalctl -p warning` shows exactly the warnings and errors.
 */
#ifndef TICKETSYNC_LOG_H
#define TICKETSYNC_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum log_level {
	LOG_LEVEL_DEBUG = 0,
	LOG_LEVEL_INFO,
	LOG_LEVEL_WARN,
	LOG_LEVEL_ERROR,
};

/* The fields after msg; a zero/NULL member is left out. */
typedef struct log_fields {
	int64_t detection;
	const char *ticket;
	long http_status;
} log_fields_t;

/* progname NULL keeps "ticketsync". Decides here, once, whether stderr is journald's. */
void log_init(const char *progname, enum log_level level);
void log_set_level(enum log_level level);
/* "debug", "info", "warn"/"warning", "error" -> 0; anything else -> -1 */
int log_level_parse(const char *name, enum log_level *out);

void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_errorx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* An event with fields (f may be NULL). */
void log_event(enum log_level level, const log_fields_t *f, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Send libmongoc's own log lines through this log (its default handler writes to
 * stdout, which belongs to a program's output). Call once, early in main. */
void log_route_mongoc(void);

void log_vlog(enum log_level level, const log_fields_t *f, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

/* Pure: one line (with its '\n') into buf, cut to fit but always ending "\n" and
 * keeping msg's closing quote; returns strlen(buf). now_ms is unused when journald. */
typedef struct log_line {
	bool journald;
	int64_t now_ms;
	enum log_level level;
	const char *prog;
	const char *msg; /* any bytes; sanitized here */
	const log_fields_t *fields;
} log_line_t;
size_t log_format(char *buf, size_t size, const log_line_t *line);

/* Pure: whether a JOURNAL_STREAM value ("dev:ino") names the file with st_dev/st_ino. */
bool log_journal_stream_matches(const char *value, uint64_t dev, uint64_t ino);

#endif
