/*
 * log: one line per event on stderr, logfmt style ("ts=... level=... prog=... msg"),
 * safe from any thread. Secrets are never passed here.
 */
#ifndef TICKETSYNC_LOG_H
#define TICKETSYNC_LOG_H

#include <stdarg.h>

enum log_level {
	LOG_LEVEL_DEBUG = 0,
	LOG_LEVEL_INFO,
	LOG_LEVEL_WARN,
	LOG_LEVEL_ERROR,
};

void log_init(const char *progname, enum log_level level);
void log_set_level(enum log_level level);
/* "debug", "info", "warn"/"warning", "error" -> 0; anything else -> -1 */
int log_level_parse(const char *name, enum log_level *out);

void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_errorx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Send libmongoc's own log lines through this log (its default handler writes to
 * stdout, which belongs to a program's output). Call once, early in main. */
void log_route_mongoc(void);

void log_vlog(enum log_level level, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

#endif
