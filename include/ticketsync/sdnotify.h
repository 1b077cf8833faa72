/*
 * sdnotify: tell systemd how the daemon is (Type=notify, sd_notify(3)): READY=1 once
 * it has started (state() says so the first time), STATUS= whenever the text
 * changes, WATCHDOG=1 from a timer on the loop (so a loop that blocks is restarted by
 * WatchdogSec=), STOPPING=1 on shutdown. Does nothing outside systemd (no
 * NOTIFY_SOCKET). Loop thread only.
 */
#ifndef TICKETSYNC_SDNOTIFY_H
#define TICKETSYNC_SDNOTIFY_H

#include <stdbool.h>
#include <stddef.h>

#include <bson/bson.h>

struct event_base;
typedef struct sdnotify sdnotify_t;

/* Whether the daemon has started (READY=1 may go); status gets its one-line state. */
typedef bool (*sdnotify_state_fn)(void *arg, char *status, size_t len);

/* NULL without systemd (a NULL handle is fine everywhere), or when its timer cannot
 * be created (err set). */
sdnotify_t *sdnotify_start(struct event_base *base, sdnotify_state_fn state, void *arg,
    bson_error_t *err);
void sdnotify_stopping(sdnotify_t *s);
void sdnotify_free(sdnotify_t *s);

#endif
