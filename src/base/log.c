/* log: logfmt lines on stderr; one write per line so threads never interleave. */
#include "ticketsync/log.h"

#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <mongoc/mongoc.h>

#include "ticketsync/clock.h"
#include "ticketsync/text.h"

#define LOG_LINE_MAX 4096
/* what a long msg leaves for the fields after it */
#define LOG_FIELDS_ROOM 600

static const char *log_progname = "ticketsync";
static atomic_int log_threshold = LOG_LEVEL_INFO;
static atomic_bool log_journald;

static const char *const log_names[] = { "debug", "info", "warn", "error" };
/* syslog(3) priorities: LOG_DEBUG, LOG_INFO, LOG_WARNING, LOG_ERR */
static const int log_priorities[] = { 7, 6, 4, 3 };

bool
log_journal_stream_matches(const char *value, uint64_t dev, uint64_t ino)
{
	unsigned long long d, i;
	char *end;

	if (value == NULL || *value < '0' || *value > '9')
		return false;
	d = strtoull(value, &end, 10);
	if (*end != ':' || end[1] < '0' || end[1] > '9')
		return false;
	i = strtoull(end + 1, &end, 10);
	return *end == '\0' && d == dev && i == ino;
}

void
log_init(const char *progname, enum log_level level)
{
	struct stat st;
	bool journald = false;

	if (progname != NULL)
		log_progname = progname;
	atomic_store(&log_threshold, (int)level);
	/* Our stderr may have been redirected since systemd set it (sd-daemon(3)). */
	if (fstat(STDERR_FILENO, &st) == 0)
		journald = log_journal_stream_matches(getenv("JOURNAL_STREAM"),
		    (uint64_t)st.st_dev, (uint64_t)st.st_ino);
	atomic_store(&log_journald, journald);
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

/* A bounded appender: what does not fit is dropped, never half a character. */
typedef struct log_buf {
	char *p;
	size_t size, len; /* len < size always */
} log_buf_t;

static void
lb_puts(log_buf_t *b, const char *s)
{
	size_t n = strlen(s);

	if (n > b->size - 1 - b->len)
		n = b->size - 1 - b->len;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

/* Bytes clean's character at s takes once escaped. clean is valid UTF-8. */
static size_t
lb_char(const char *s, size_t *in)
{
	size_t n = text_utf8_seq((const unsigned char *)s, strlen(s));

	*in = n > 0 ? n : 1;
	return *s == '"' || *s == '\\' ? 2 : *in;
}

/*
 * logfmt value: bare when it has no space, quote, '=' or backslash; else quoted. A
 * value that does not fit (leaving reserve bytes) is cut between characters and ends
 * in "..."; a quoted one always gets its closing quote. Returns false, writing
 * nothing, when not even the quotes and "..." fit.
 */
static bool
lb_value(log_buf_t *b, const char *clean, bool always_quote, size_t reserve)
{
	bool quote = always_quote || *clean == '\0' || strpbrk(clean, " \"=\\") != NULL;
	size_t q = quote ? 1 : 0, need = 2 * q, in, w, room;
	bool whole;

	if (b->len + 2 * q + 3 + reserve > b->size - 1)
		return false;
	room = b->size - 1 - reserve; /* the value must end at or before this length */
	for (const char *s = clean; *s != '\0'; s += in)
		need += lb_char(s, &in);
	whole = b->len + need <= room;
	if (quote)
		lb_puts(b, "\"");
	for (const char *s = clean; *s != '\0'; s += in) {
		w = lb_char(s, &in);
		/* cut between characters, where "..." and the quote still fit */
		if (!whole && b->len + w + 3 + q > room) {
			lb_puts(b, "...");
			break;
		}
		if (w == 2) {
			char esc[3] = { '\\', *s, 0 };
			lb_puts(b, esc);
		} else {
			memcpy(b->p + b->len, s, in);
			b->len += in;
			b->p[b->len] = '\0';
		}
	}
	if (quote)
		lb_puts(b, "\"");
	return true;
}

/* " key=value", whole or not at all: a logfmt reader must never get half a field. */
static void
lb_field(log_buf_t *b, const char *key, const char *raw)
{
	char clean[512], one[1100];
	log_buf_t f = { one, sizeof(one), 0 };

	text_sanitize(clean, sizeof(clean), raw, TEXT_STRLEN, 0,
	    TEXT_CONTROLS_TO_SPACE | TEXT_ELLIPSIS);
	one[0] = '\0';
	lb_puts(&f, " ");
	lb_puts(&f, key);
	lb_puts(&f, "=");
	lb_value(&f, clean, false, 0);
	if (b->len + f.len <= b->size - 1)
		lb_puts(b, one);
}

size_t
log_format(char *buf, size_t size, const log_line_t *line)
{
	log_buf_t b = { buf, size - 1, 0 }; /* the last byte is the '\n' */
	const log_fields_t *f = line->fields;
	char head[96], ts[40], num[32];
	char msg[LOG_LINE_MAX];
	size_t room, cap;
	time_t now_s;
	struct tm tm;
	enum log_level lv = line->level > LOG_LEVEL_ERROR ? LOG_LEVEL_ERROR : line->level;

	if (size < 2) {
		if (size == 1)
			buf[0] = '\0';
		return 0;
	}
	buf[0] = '\0';
	if (line->journald) {
		snprintf(head, sizeof(head), "<%d>", log_priorities[lv]);
	} else {
		now_s = (time_t)(line->now_ms / 1000);
		gmtime_r(&now_s, &tm);
		strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
		snprintf(head, sizeof(head), "ts=%s.%03dZ ", ts, (int)(line->now_ms % 1000));
	}
	lb_puts(&b, head);
	lb_puts(&b, "level=");
	lb_puts(&b, log_names[lv]);
	lb_puts(&b, " prog=");
	lb_puts(&b, line->prog != NULL ? line->prog : "ticketsync");
	lb_puts(&b, " msg=");
	/* One event on one line, in valid UTF-8, whatever a message quotes; the fields
	 * keep their room (LOG_FIELDS_ROOM), a long message is cut with "..." instead. */
	room = b.size > 4 * LOG_FIELDS_ROOM ? LOG_FIELDS_ROOM : b.size / 4;
	cap = b.size - b.len > room + 4 ? b.size - b.len - room : 4;
	text_sanitize(msg, cap < sizeof(msg) ? cap : sizeof(msg), line->msg,
	    TEXT_STRLEN, 0, TEXT_CONTROLS_TO_SPACE | TEXT_ELLIPSIS);
	lb_value(&b, msg, true, room);
	if (f != NULL) {
		if (f->detection != 0) {
			snprintf(num, sizeof(num), "%" PRId64, f->detection);
			lb_field(&b, "detection", num);
		}
		if (f->ticket != NULL && *f->ticket != '\0')
			lb_field(&b, "ticket", f->ticket);
		if (f->http_status != 0) {
			snprintf(num, sizeof(num), "%ld", f->http_status);
			lb_field(&b, "http_status", num);
		}
	}
	buf[b.len++] = '\n';
	buf[b.len] = '\0';
	return b.len;
}

void
log_vlog(enum log_level level, const log_fields_t *f, const char *fmt, va_list ap)
{
	char raw[LOG_LINE_MAX], line[LOG_LINE_MAX];
	log_line_t l;
	size_t n;

	if ((int)level < atomic_load(&log_threshold))
		return;
	vsnprintf(raw, sizeof(raw), fmt, ap);
	l = (log_line_t){ .journald = atomic_load(&log_journald), .now_ms = clock_wall_ms(),
		.level = level, .prog = log_progname, .msg = raw, .fields = f };
	n = log_format(line, sizeof(line), &l);
	fwrite(line, 1, n, stderr);
}

#define LOG_DEFINE(name, level)                                 \
	void name(const char *fmt, ...)                         \
	{                                                       \
		va_list ap;                                     \
		va_start(ap, fmt);                              \
		log_vlog(level, NULL, fmt, ap);                 \
		va_end(ap);                                     \
	}

LOG_DEFINE(log_debug, LOG_LEVEL_DEBUG)
LOG_DEFINE(log_info, LOG_LEVEL_INFO)
LOG_DEFINE(log_warnx, LOG_LEVEL_WARN)
LOG_DEFINE(log_errorx, LOG_LEVEL_ERROR)

void
log_event(enum log_level level, const log_fields_t *f, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vlog(level, f, fmt, ap);
	va_end(ap);
}

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
