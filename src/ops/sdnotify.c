/* sdnotify: see sdnotify.h. */
#include "ticketsync/sdnotify.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <systemd/sd-daemon.h>

#include "ticketsync/error.h"
#include "ticketsync/log.h"
#include "ticketsync/xalloc.h"

/* State checks at least this often; the watchdog is fed at least 4 times a period. */
#define SDNOTIFY_TICK_US 1000000

struct sdnotify {
	struct event *tick;
	sdnotify_state_fn state;
	void *arg;
	bool ready, stopping, watchdog;
	char status[256];
};

static void
sdnotify_on_tick(evutil_socket_t fd, short what, void *arg)
{
	sdnotify_t *s = arg;
	char status[256];
	bool started;

	(void)fd;
	(void)what;
	if (s->watchdog)
		sd_notify(0, "WATCHDOG=1");
	if (s->stopping)
		return;
	status[0] = '\0';
	started = s->state(s->arg, status, sizeof(status));
	if (started && !s->ready) {
		s->ready = true;
		sd_notifyf(0, "READY=1\nSTATUS=%s", status);
		bson_strncpy(s->status, status, sizeof(s->status));
		log_info("systemd: ready (%s)", status);
	} else if (strcmp(status, s->status) != 0) {
		sd_notifyf(0, "STATUS=%s", status);
		bson_strncpy(s->status, status, sizeof(s->status));
	}
}

sdnotify_t *
sdnotify_start(struct event_base *base, sdnotify_state_fn state, void *arg, bson_error_t *err)
{
	const char *sock = getenv("NOTIFY_SOCKET");
	uint64_t usec = 0, tick = SDNOTIFY_TICK_US;
	struct timeval tv;
	sdnotify_t *s;

	if (sock == NULL || *sock == '\0')
		return NULL;
	s = xcalloc(1, sizeof(*s));
	s->state = state;
	s->arg = arg;
	if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
		s->watchdog = true;
		if (usec / 4 < tick)
			tick = usec / 4 > 0 ? usec / 4 : 1;
	}
	s->tick = event_new(base, -1, EV_PERSIST, sdnotify_on_tick, s);
	tv.tv_sec = (time_t)(tick / 1000000);
	tv.tv_usec = (suseconds_t)(tick % 1000000);
	if (s->tick == NULL || event_add(s->tick, &tv) != 0) {
		bson_set_error(err, ERROR_DOMAIN, ERROR_BASE_SDNOTIFY, "sdnotify: cannot create its timer");
		sdnotify_free(s);
		return NULL;
	}
	/* The first check at once: a fast start is not held back by a tick. */
	event_active(s->tick, EV_TIMEOUT, 0);
	return s;
}

void
sdnotify_stopping(sdnotify_t *s)
{
	if (s == NULL || s->stopping)
		return;
	s->stopping = true;
	sd_notify(0, "STOPPING=1\nSTATUS=shutting down");
}

void
sdnotify_free(sdnotify_t *s)
{
	if (s == NULL)
		return;
	if (s->tick != NULL)
		event_free(s->tick);
	free(s);
}
