/*
 * bench: what ticketsync-bench's parts share (bench.c: sizes, latency, memory;
 * bench_create.c: ticket creation; bench_sweep.c: the sweep of ExtraHop's
 * detections): the options, the run's servers, and the helpers
 * that start the daemon, write input, read the fake ExtraHop's records and measure
 * change-to-PATCH latency at a steady rate.
 */
#ifndef TICKETSYNC_BENCH_H
#define TICKETSYNC_BENCH_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include <curl/curl.h>
#include <mongoc/mongoc.h>

#include "tsdaemon.h"
#include "tsextrahop.h"
#include "tsmongo.h"

#define BENCH_API_KEY "bench-api-key"
#define BENCH_MAX_SIZES 8
#define BENCH_INSERT_BATCH 1000
#define BENCH_ASSIGNEES 50
#define BENCH_STEADY_DETECTIONS 1000

typedef struct bench_opts {
	long sizes[BENCH_MAX_SIZES];
	int nsizes;
	int latency_ms;
	int concurrency;
	int interval_ms;
	long batch_size;        /* 0: the daemon's default */
	int steady_seconds;
	int steady_rate;        /* changes per second */
	long pending;           /* detections kept pending for the memory figure; 0: skip */
	long baseline_limit;    /* rows the baseline really sends; 0: all */
	long create_n;          /* ticket creations under Jira's rate limit; 0: skip */
	long create_faults;     /* creations through injected faults; 0: skip */
	int create_rate;        /* Jira's and [create]'s rate limit, writes per second */
	int create_concurrency; /* [create] concurrency */
	bool only_create;       /* skip the sizes, latency, memory and sweep phases */
	long sweep_n;           /* detections the fake holds for the sweep phase; 0: skip */
	long sweep_page;        /* [sweep] page_size in it */
	bool only_sweep;        /* skip every phase but the sweep */
	bool smoke;
	bool skip_baseline, skip_ceiling;
	bool timeline;          /* print PATCH arrivals over time (diagnosis) */
	const char *python;
	const char *markdown;   /* also write the table here */
	char workdir[128];
} bench_opts_t;

typedef struct bench_steady_result {
	bool ran, ok;
	long changes, matched;
	double p50, p99, max, mean;
	double daemon_cpu_s;
	double seconds;         /* from the first change written to the last written */
} bench_steady_result_t;

typedef struct bench {
	bench_opts_t o;
	tsmongo_t *mongo;
	mongoc_client_t *client;
	tsextrahop_t fx;
	bool fx_started;
	CURL *ctl;              /* keep-alive handle for the fake's control API */
	int db_seq;
	long steady_seq;        /* steady changes written so far: each gets its own value */
	int failures;
} bench_t;

/* One recorded PATCH, as the checks need it. */
typedef struct bench_patch {
	int64_t id;
	int64_t status;
	double time_ms;
	const char *ticket_id, *st, *assignee; /* point into the page document */
	bool has_resolution;
} bench_patch_t;

/* ---- helpers (bench.c) ---- */

/* A failed check: counted (the run exits 1) and said on stderr. */
void bench_fail(bench_t *b, const char *fmt, ...) BSON_GNUC_PRINTF(2, 3);
/* Progress on stderr. */
void bench_note(const char *fmt, ...) BSON_GNUC_PRINTF(1, 2);
void bench_sleep_ms(double ms);
double bench_now_s(void);
/* utime + stime of pid in seconds; -1 if unreadable. */
double bench_cpu_s(pid_t pid);
/* A "VmHWM"-style line of /proc/pid/status in MB; -1 if absent. */
double bench_mem_mb(pid_t pid, const char *key);
/* One markdown row of a steady phase's latency; hwm_mb < 0: no memory column. */
void bench_latency_row(FILE *f, const char *what, const bench_steady_result_t *s,
    int interval_ms, double hwm_mb);
/* Every request a fake (its control URL) recorded, in order, handed to cb (the record:
 * seq, method, path, status, time_ms, body...). false when the control API failed. */
bool bench_fake_requests(const char *control_url, void (*cb)(void *arg, const bson_t *r),
    void *arg);
int64_t bench_int(const bson_t *doc, const char *key, int64_t dflt);
/* "-" for NAN or negative values, else "%.2f" (s), "%.0f" (rate) or "%.1f". */
void bench_fmt(char *out, size_t len, double v, const char *fmt_kind);

/* The fake ExtraHop: its counters (patch_accepted, last_seq); forget its records. */
bool bench_stats(bench_t *b, int64_t *accepted, int64_t *last_seq);
bool bench_reset_fake(bench_t *b);
/* Every recorded PATCH of /api/v1/detections/{id} after *since, in order; *since
 * becomes the last recorded sequence number read. */
bool bench_each_patch(bench_t *b, int64_t *since, void (*cb)(const bench_patch_t *, void *),
    void *arg);

/* A fresh database name for one phase, its collections as `ticketsyncctl init` makes
 * them, documents in it. */
void bench_dbname(bench_t *b, const char *tag, char *out, size_t len);
bool bench_prepare_db(bench_t *b, const char *db);
/* detections (as the ExtraHop trigger writes them, first seen at first_seen_ms; 0: a
 * minute ago) or tickets (TICKET_PREFIX-<id>, source "bench") for ids from..from+n-1. */
bool bench_insert(bench_t *b, const char *db, const char *coll_name, int64_t from, long n,
    const char *ticket_status, const char *ticket_prefix, int64_t first_seen_ms);
int64_t bench_count(bench_t *b, const char *db, const char *coll_name, const char *json);
/* Until coll holds no document that is not synced (at most timeout_s). */
bool bench_wait_synced(bench_t *b, const char *db, const char *coll_name, double timeout_s);

/* ticketsyncd on db with the benchmark's settings, plus env (NULL-terminated name,
 * value pairs; may be NULL). Its log: <workdir>/ticketsyncd-<tag>.log. */
bool bench_daemon_start(bench_t *b, tsdaemon_t *d, const char *db, const char *tag,
    const char *const *env);
/* Ready, the first rescan done, at least `reconciles` reconciled, then quiet. */
bool bench_daemon_idle(bench_t *b, tsdaemon_t *d, long reconciles, double timeout_s);
void bench_daemon_stop(bench_t *b, tsdaemon_t *d);

/*
 * Change-to-PATCH latency on a running daemon d whose database db holds detections
 * 1..dets with tickets TK-1..TK-dets, all pushed: o.steady_rate ticket changes per
 * second for o.steady_seconds (each a new assignee), each write time matched with the
 * fake's recorded arrival of that detection's PATCH. Other PATCHes (other detections)
 * may arrive meanwhile and are ignored. false (and a failure counted) if a change got
 * no PATCH or one more than once.
 */
bool bench_steady_run(bench_t *b, tsdaemon_t *d, const char *db, long dets, const char *what,
    bench_steady_result_t *r);

#endif
