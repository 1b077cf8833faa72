/* log: logfmt lines on stderr; one fprintf per line so threads never interleave. */
#include "ticketsync/log.h"

#include <stdatomic.h>
#include <stdio.h>
#include <strings.h>
#include <time.h>

#include <mongoc/mongoc.h>

#include "ticketsync/clock.h"
#include "ticketsync/text.h"

static const char *log_progname = "ticketsync";
static atomic_int log_threshold = LOG_LEVEL_INFO;

static const char *const log_names[] = { "debug", "info", "warn", "error" };

void
log_init(const char *progname, enum log_level level)
{
	if (progname != NULL)
		log_progname = progname;
	atomic_store(&log_threshold, (int)level);
}

void
log_set_level(enum log_level level)
{
	atomic_store(&log_threshold, (int)level);
}

int
log_level_parse(const char *name, enum log_level *out)
{
	if (name == NULL)
		return -1;
	for (int i = 0; i <= LOG_LEVEL_ERROR; i++) {
		if (strcasecmp(name, log_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	if (strcasecmp(name, "warning") == 0) {
		*out = LOG_LEVEL_WARN;
		return 0;
	}
	return -1;
}

void
log_vlog(enum log_level level, const char *fmt, va_list ap)
{
	char raw[2048], msg[2048];
	char ts[40];
	int64_t now_ms;
	time_t now_s;
	struct tm tm;

	if ((int)level < atomic_load(&log_threshold))
		return;
	vsnprintf(raw, sizeof(raw), fmt, ap);
	/* One event on one line, in valid UTF-8, whatever a message quotes. */
	text_sanitize(msg, sizeof(msg), raw, TEXT_STRLEN, 0, TEXT_CONTROLS_TO_SPACE);
	now_ms = clock_wall_ms();
	now_s = (time_t)(now_ms / 1000);
	gmtime_r(&now_s, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	fprintf(stderr, "ts=%s.%03dZ level=%s prog=%s %s\n", ts,
	    (int)(now_ms % 1000), log_names[level], log_progname, msg);
}

#define LOG_DEFINE(name, level)                                 \
	void name(const char *fmt, ...)                         \
	{                                                       \
		va_list ap;                                     \
		va_start(ap, fmt);                              \
		log_vlog(level, fmt, ap);                       \
		va_end(ap);                                     \
	}

LOG_DEFINE(log_debug, LOG_LEVEL_DEBUG)
LOG_DEFINE(log_info, LOG_LEVEL_INFO)
LOG_DEFINE(log_warnx, LOG_LEVEL_WARN)
LOG_DEFINE(log_errorx, LOG_LEVEL_ERROR)

static void
log_mongoc(mongoc_log_level_t level, const char *domain, const char *message, void *arg)
{
	(void)arg;
	switch (level) {
	case MONGOC_LOG_LEVEL_ERROR:
	case MONGOC_LOG_LEVEL_CRITICAL: log_errorx("mongoc %s: %s", domain, message); break;
	case MONGOC_LOG_LEVEL_WARNING: log_warnx("mongoc %s: %s", domain, message); break;
	case MONGOC_LOG_LEVEL_MESSAGE:
	case MONGOC_LOG_LEVEL_INFO: log_info("mongoc %s: %s", domain, message); break;
	default: log_debug("mongoc %s: %s", domain, message); break;
	}
}

void
log_route_mongoc(void)
{
	mongoc_log_set_handler(log_mongoc, NULL);
}
