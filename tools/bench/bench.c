/*
 * ticketsync-bench: one run, one machine (issue #6). Starts the MongoDB test server (or
 * uses TICKETSYNC_TEST_MONGODB_URI) and the fake ExtraHop API over HTTPS with a
 * per-request latency, then for each size N:
 *
 *   ceiling     fake_extrahop_loadgen: N PATCHes over `concurrency` keep-alive
 *               connections (the fake's own maximum at the daemon's concurrency)
 *   baseline    tools/bench/baseline.py: the documented script (sequential
 *               requests.patch, no session, verify= on each call) over N CSV rows
 *   ticketsync  N detections stored and the daemon streaming and idle; N tickets
 *               bulk-inserted; timed until the fake has accepted every expected PATCH
 *
 * then, once: change-to-PATCH latency at a steady rate (one ticket change every
 * 1000/rate ms, matched with the fake's recorded arrival time of each PATCH), and the
 * daemon's memory with `pending` detections that cannot be pushed (the fake answers
 * 503 to every PATCH); then ticket creation against the fake Jira Cloud
 * (bench_create.c: under Jira's rate limit with steady ticket changes alongside, and
 * through injected faults); then the sweep of ExtraHop's detections (bench_sweep.c:
 * `ticketsyncctl sync-from-extrahop` of N, and steady ticket changes beside the
 * daemon's sweep). It prints one table per part.
 *
 * Correctness is checked on every run: each detection must receive exactly the PATCH
 * its ticket implies (recorded bodies compared), and each detection to ticket exactly
 * one ticket, or the run fails (exit 1). Speed
 * targets are reported, never asserted. Everything listens on 127.0.0.1 only.
 *
 * usage: ticketsync-bench [--sizes 1000,10000] [--big] [--latency-ms 2] ...  (--help)
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <mongoc/mongoc.h>

#include "ticketsync/clock.h"
#include "ticketsync/schema.h"
#include "ticketsync/store.h"
#include "ticketsync/xalloc.h"
#include "bench.h"
#include "bench_create.h"
#include "bench_sweep.h"
#include "tshttp.h"

typedef struct bench_size_result {
	long n;
	bool ok;
	double base_s, base_rate;       /* rate from base_rows rows */
	long base_rows;
	double ceil_s, ceil_rate, ceil_p50, ceil_p99;
	double ts_s, ts_rate;
	double ts_cpu_s, ts_rss_mb;     /* daemon CPU during the timed phase; VmHWM */
	double node_cpu_s, fake_cpu_s;  /* the test server's and the fake's, same phase */
	double write_s;                 /* how long the N ticket inserts took */
} bench_size_result_t;

typedef struct bench_pending_result {
	bool ran, ok;
	long pending;
	double reach_s;
	double rss_mb, hwm_mb;
} bench_pending_result_t;

/* ---- small helpers ---- */

void
bench_fail(bench_t *b, const char *fmt, ...)
{
	va_list ap;

	b->failures++;
	fprintf(stderr, "bench: FAILED: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void
bench_note(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "bench: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void
bench_sleep_ms(double ms)
{
	struct timespec ts;

	if (ms <= 0)
		return;
	ts.tv_sec = (time_t)(ms / 1000);
	ts.tv_nsec = (long)((ms - (double)ts.tv_sec * 1000) * 1e6);
	nanosleep(&ts, NULL);
}

double
bench_now_s(void)
{
	return (double)clock_mono_ms() / 1e3;
}

double
bench_cpu_s(pid_t pid)
{
	char path[64], buf[2048];
	unsigned long long ut = 0, st = 0;
	const char *p;
	ssize_t n;
	int fd;

	if (pid <= 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	if ((fd = open(path, O_RDONLY)) < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	/* The command name may hold spaces and parentheses: fields count from the last ')'. */
	if ((p = strrchr(buf, ')')) == NULL)
		return -1;
	/* After ")": state(3) ... utime(14) stime(15). */
	if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

void
bench_latency_row(FILE *f, const char *what, const bench_steady_result_t *s, int interval_ms,
    double hwm_mb)
{
	char p50[32], p99[32], mx[32], cpu[32], hwm[32] = "";

	if (!s->ran)
		return;
	if (!s->ok) {
		fprintf(f, "| %s | %ld | FAILED (%ld matched) | | | %d | |%s\n", what, s->changes,
		    s->matched, interval_ms, hwm_mb >= 0 ? " |" : "");
		return;
	}
	bench_fmt(p50, sizeof(p50), s->p50, "rate");
	bench_fmt(p99, sizeof(p99), s->p99, "rate");
	bench_fmt(mx, sizeof(mx), s->max, "rate");
	bench_fmt(cpu, sizeof(cpu), s->daemon_cpu_s, "s");
	if (hwm_mb >= 0) {
		char v[28];

		bench_fmt(v, sizeof(v), hwm_mb, "x");
		snprintf(hwm, sizeof(hwm), " %s |", v);
	}
	fprintf(f, "| %s | %ld | %s | %s | %s | %d | %s |%s\n", what, s->changes, p50, p99, mx,
	    interval_ms, cpu, hwm);
}

bool
bench_fake_requests(const char *control_url, void (*cb)(void *arg, const bson_t *r), void *arg)
{
	int64_t since = 0;

	for (;;) {
		char path[96], err[256];
		bson_t page;
		bson_iter_t it, arr;
		size_t n = 0;

		snprintf(path, sizeof(path), "/requests?since=%" PRId64 "&limit=10000", since);
		if (tsextrahop_control_at(control_url, err, sizeof(err), "GET", path, NULL, 200,
		        &page) != 0) {
			bson_destroy(&page);
			return false;
		}
		if (bson_iter_init_find(&it, &page, "requests") && bson_iter_recurse(&it, &arr)) {
			while (bson_iter_next(&arr)) {
				uint32_t len;
				const uint8_t *data;
				bson_t r;

				n++;
				if (!BSON_ITER_HOLDS_DOCUMENT(&arr))
					continue;
				bson_iter_document(&arr, &len, &data);
				bson_init_static(&r, data, len);
				since = tsextrahop_int(&r, "seq", since);
				cb(arg, &r);
			}
		}
		bson_destroy(&page);
		if (n == 0)
			return true;
	}
}

double
bench_mem_mb(pid_t pid, const char *key)
{
	char path[64], line[256];
	size_t klen = strlen(key);
	double mb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, key, klen) == 0 && line[klen] == ':') {
			mb = strtod(line + klen + 1, NULL) / 1024.0;
			break;
		}
	}
	fclose(f);
	return mb;
}

static int
bench_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Nearest-rank percentile of a sorted array. */
static double
bench_percentile(const double *sorted, size_t n, double p)
{
	size_t rank;

	if (n == 0)
		return NAN;
	rank = (size_t)ceil(p / 100.0 * (double)n);
	if (rank < 1)
		rank = 1;
	return sorted[rank - 1];
}

/* Value of key=NUMBER in a "k=v k=v" line; NAN if absent. */
static double
bench_kv(const char *line, const char *key)
{
	char pat[64];
	const char *s;

	snprintf(pat, sizeof(pat), "%s=", key);
	for (s = strstr(line, pat); s != NULL; s = strstr(s + 1, pat))
		if (s == line || s[-1] == ' ')
			return strtod(s + strlen(pat), NULL);
	return NAN;
}

/*
 * Run argv to completion (at most timeout_s), stdout captured into out, stderr
 * appended to log_path. Returns the wait status, or -1 (not started / timed out:
 * killed).
 */
static int
bench_run(char *const argv[], const char *log_path, double timeout_s, char *out, size_t outlen)
{
	int fds[2], status = -1;
	size_t used = 0;
	double deadline = ((double)clock_mono_ms() / 1e3) + timeout_s;
	pid_t pid;

	out[0] = '\0';
	if (pipe2(fds, O_CLOEXEC) != 0)
		return -1;
	pid = fork();
	if (pid < 0) {
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	if (pid == 0) {
		int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(fds[1], STDOUT_FILENO);
		if (fd >= 0)
			dup2(fd, STDERR_FILENO);
		execvp(argv[0], argv);
		fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(fds[1]);
	for (;;) {
		struct pollfd pfd = { fds[0], POLLIN, 0 };
		double left = deadline - ((double)clock_mono_ms() / 1e3);
		char sink[512];
		ssize_t n;

		if (left <= 0) {
			bench_note("%s: still running after %.0f s; stopped", argv[0], timeout_s);
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			close(fds[0]);
			return -1;
		}
		if (poll(&pfd, 1, left > 1 ? 1000 : (int)(left * 1000) + 1) <= 0)
			continue;
		if (used + 1 < outlen)
			n = read(fds[0], out + used, outlen - 1 - used);
		else
			n = read(fds[0], sink, sizeof(sink));
		if (n <= 0)
			break;
		if (used + 1 < outlen && n > 0) {
			used += (size_t)n;
			out[used] = '\0';
		}
	}
	close(fds[0]);
	waitpid(pid, &status, 0);
	return status;
}

/* ---- the fake's control API over one keep-alive connection ---- */

/* method + control path (after /_fake); reply JSON into out (always initialised when
 * non-NULL). Returns the HTTP status, 0 on transport failure. */
static long
bench_ctl(bench_t *b, const char *method, const char *path, const char *body, bson_t *out)
{
	char url[512];
	tshttp_body_t buf = { 0 };
	struct curl_slist *hl = NULL;
	long status = 0;
	bson_error_t err;

	if (out != NULL)
		bson_init(out);
	snprintf(url, sizeof(url), "%s%s", b->fx.control_url, path);
	curl_easy_setopt(b->ctl, CURLOPT_URL, url);
	curl_easy_setopt(b->ctl, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(b->ctl, CURLOPT_WRITEFUNCTION, tshttp_collect);
	curl_easy_setopt(b->ctl, CURLOPT_WRITEDATA, &buf);
	curl_easy_setopt(b->ctl, CURLOPT_TIMEOUT_MS, 60000L);
	curl_easy_setopt(b->ctl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(b->ctl, CURLOPT_TCP_NODELAY, 1L);
	if (body != NULL) {
		hl = curl_slist_append(hl, "Content-Type: application/json");
		curl_easy_setopt(b->ctl, CURLOPT_POSTFIELDS, body);
	} else {
		curl_easy_setopt(b->ctl, CURLOPT_POSTFIELDS, NULL);
		curl_easy_setopt(b->ctl, CURLOPT_HTTPGET, 1L);
		curl_easy_setopt(b->ctl, CURLOPT_CUSTOMREQUEST, method);
	}
	curl_easy_setopt(b->ctl, CURLOPT_HTTPHEADER, hl);
	if (curl_easy_perform(b->ctl) == CURLE_OK)
		curl_easy_getinfo(b->ctl, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_setopt(b->ctl, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(hl);
	if (out != NULL && buf.data != NULL && buf.len > 0) {
		bson_destroy(out);
		if (!bson_init_from_json(out, buf.data, (ssize_t)buf.len, &err)) {
			bson_init(out);
			status = 0;
		}
	}
	free(buf.data);
	return status;
}

int64_t
bench_int(const bson_t *doc, const char *key, int64_t dflt)
{
	bson_iter_t it;

	if (bson_iter_init_find(&it, doc, key) && BSON_ITER_HOLDS_NUMBER(&it))
		return bson_iter_as_int64(&it);
	return dflt;
}

/* The fake's counters: patch_accepted and last_seq. */
bool
bench_stats(bench_t *b, int64_t *accepted, int64_t *last_seq)
{
	bson_t st;
	bool ok = bench_ctl(b, "GET", "/stats", NULL, &st) == 200;

	if (accepted != NULL)
		*accepted = bench_int(&st, "patch_accepted", -1);
	if (last_seq != NULL)
		*last_seq = bench_int(&st, "last_seq", -1);
	bson_destroy(&st);
	return ok;
}

bool
bench_reset_fake(bench_t *b)
{
	return bench_ctl(b, "POST", "/reset", "{}", NULL) / 100 == 2;
}

/* Poll until the fake accepted at least want PATCHes (since its last reset); every
 * poll_ms. Returns the monotonic time it was seen, or -1 on timeout. */
static double
bench_wait_accepted(bench_t *b, int64_t want, double timeout_s, int poll_ms, int64_t *seen)
{
	double deadline = ((double)clock_mono_ms() / 1e3) + timeout_s;
	int64_t acc = -1;

	while (((double)clock_mono_ms() / 1e3) < deadline) {
		if (bench_stats(b, &acc, NULL) && acc >= want) {
			if (seen != NULL)
				*seen = acc;
			return ((double)clock_mono_ms() / 1e3);
		}
		bench_sleep_ms(poll_ms);
	}
	if (seen != NULL)
		*seen = acc;
	return -1;
}

/* Walk every recorded request after *since, a page at a time, calling cb for each
 * PATCH of /api/v1/detections/{id}. It stops before the first request still waiting
 * for its reply (status null), so that a later walk from *since reads it answered. */
bool
bench_each_patch(bench_t *b, int64_t *sincep, void (*cb)(const bench_patch_t *, void *),
    void *arg)
{
	int64_t since = *sincep;

	for (;;) {
		char path[96];
		bson_t page;
		bson_iter_t it, arr;
		size_t n = 0;

		snprintf(path, sizeof(path), "/requests?since=%" PRId64 "&limit=10000", since);
		if (bench_ctl(b, "GET", path, NULL, &page) != 200) {
			bson_destroy(&page);
			return false;
		}
		if (bson_iter_init_find(&it, &page, "requests") && bson_iter_recurse(&it, &arr)) {
			while (bson_iter_next(&arr)) {
				bson_iter_t r;
				bench_patch_t p = { 0 };
				const char *method = "", *rpath = "";
				int64_t seq = since;
				bool is_patch, answered = false;

				n++;
				if (!BSON_ITER_HOLDS_DOCUMENT(&arr) || !bson_iter_recurse(&arr, &r))
					continue;
				while (bson_iter_next(&r)) {
					const char *k = bson_iter_key(&r);

					if (strcmp(k, "seq") == 0)
						seq = bson_iter_as_int64(&r);
					else if (strcmp(k, "method") == 0 && BSON_ITER_HOLDS_UTF8(&r))
						method = bson_iter_utf8(&r, NULL);
					else if (strcmp(k, "path") == 0 && BSON_ITER_HOLDS_UTF8(&r))
						rpath = bson_iter_utf8(&r, NULL);
					else if (strcmp(k, "status") == 0 && BSON_ITER_HOLDS_NUMBER(&r)) {
						p.status = bson_iter_as_int64(&r);
						answered = true;
					}
					else if (strcmp(k, "time_ms") == 0 && BSON_ITER_HOLDS_NUMBER(&r))
						p.time_ms = (double)bson_iter_as_int64(&r);
					else if (strcmp(k, "body") == 0 && BSON_ITER_HOLDS_DOCUMENT(&r)) {
						bson_iter_t f;

						bson_iter_recurse(&r, &f);
						while (bson_iter_next(&f)) {
							const char *fk = bson_iter_key(&f);
							const char *v = BSON_ITER_HOLDS_UTF8(&f)
							    ? bson_iter_utf8(&f, NULL) : NULL;

							if (strcmp(fk, "ticket_id") == 0)
								p.ticket_id = v;
							else if (strcmp(fk, "status") == 0)
								p.st = v;
							else if (strcmp(fk, "assignee") == 0)
								p.assignee = v;
							else if (strcmp(fk, "resolution") == 0)
								p.has_resolution = true;
						}
					}
				}
				if (!answered) {
					bson_destroy(&page);
					*sincep = since;
					return true;
				}
				since = seq;
				is_patch = strcmp(method, "PATCH") == 0 &&
				    strncmp(rpath, "/api/v1/detections/", 19) == 0;
				if (!is_patch)
					continue;
				p.id = strtoll(rpath + 19, NULL, 10);
				cb(&p, arg);
			}
		}
		bson_destroy(&page);
		*sincep = since;
		if (n == 0)
			return true;
	}
}

/* ---- MongoDB input ---- */

void
bench_dbname(bench_t *b, const char *tag, char *out, size_t len)
{
	tsmongo_dbname(b->mongo, tag, b->db_seq++, out, len);
}

/* detections (as the ExtraHop trigger writes them; first seen at first_seen_ms, 0: a
 * minute ago) or tickets for ids from..from+n-1, inserted BENCH_INSERT_BATCH per message. */
bool
bench_insert(bench_t *b, const char *db, const char *coll_name, int64_t from, long n,
    const char *ticket_status, const char *ticket_prefix, int64_t first_seen_ms)
{
	mongoc_collection_t *coll = mongoc_client_get_collection(b->client, db, coll_name);
	bson_t *docs = calloc(BENCH_INSERT_BATCH, sizeof(bson_t));
	const bson_t **ptrs = calloc(BENCH_INSERT_BATCH, sizeof(bson_t *));
	bool tickets = strcmp(coll_name, STORE_COLL_TICKETS) == 0;
	int64_t now = clock_wall_ms();
	bool ok = docs != NULL && ptrs != NULL;

	for (long off = 0; ok && off < n; off += BENCH_INSERT_BATCH) {
		long k = n - off < BENCH_INSERT_BATCH ? n - off : BENCH_INSERT_BATCH;
		bson_error_t err;

		for (long i = 0; i < k; i++) {
			int64_t id = from + off + i;
			bson_t *d = &docs[i];
			bson_t arr;
			char s[64];

			bson_init(d);
			if (tickets) {
				snprintf(s, sizeof(s), "%s-%" PRId64, ticket_prefix, id);
				BSON_APPEND_UTF8(d, "_id", s);
				BSON_APPEND_ARRAY_BEGIN(d, "detection_ids", &arr);
				BSON_APPEND_INT64(&arr, "0", id);
				bson_append_array_end(d, &arr);
				BSON_APPEND_UTF8(d, "status", ticket_status);
				snprintf(s, sizeof(s), "analyst-%" PRId64, id % BENCH_ASSIGNEES);
				BSON_APPEND_UTF8(d, "assignee", s);
				BSON_APPEND_NULL(d, "resolution");
				BSON_APPEND_DATE_TIME(d, "updated_at", now);
				BSON_APPEND_UTF8(d, "source", "bench");
			} else {
				BSON_APPEND_INT64(d, "_id", id);
				snprintf(s, sizeof(s), "Bench detection %" PRId64, id);
				BSON_APPEND_UTF8(d, "title", s);
				BSON_APPEND_UTF8(d, "type", "bench_port_scan");
				BSON_APPEND_ARRAY_BEGIN(d, "categories", &arr);
				BSON_APPEND_UTF8(&arr, "0", "sec.attack");
				bson_append_array_end(d, &arr);
				BSON_APPEND_INT32(d, "risk_score", 30 + (int32_t)(id % 60));
				/* First seen a minute ago unless told: before a fresh daemon's
				 * ticket-creation start point. */
				BSON_APPEND_INT64(d, "start_time", first_seen_ms > 0 ? first_seen_ms : now - 60000);
				BSON_APPEND_INT64(d, "end_time", now);
				BSON_APPEND_INT64(d, "update_time", now);
				BSON_APPEND_NULL(d, "ticket_id");
				BSON_APPEND_NULL(d, "status");
				BSON_APPEND_NULL(d, "assignee");
				BSON_APPEND_NULL(d, "resolution");
			}
			ptrs[i] = d;
		}
		if (!mongoc_collection_insert_many(coll, ptrs, (size_t)k, NULL, NULL, &err)) {
			bench_fail(b, "insert into %s.%s: %s", db, coll_name, err.message);
			ok = false;
		}
		for (long i = 0; i < k; i++)
			bson_destroy(&docs[i]);
	}
	free(docs);
	free(ptrs);
	mongoc_collection_destroy(coll);
	return ok;
}

bool
bench_prepare_db(bench_t *b, const char *db)
{
	bson_error_t err;

	/* What `ticketsyncctl init` does: every collection with its validator and indexes
	 * (tickets.detection_ids is what refresh looks tickets up by). */
	if (!schema_ensure(b->client, db, NULL, false, NULL, &err)) {
		bench_fail(b, "schema for %s: %s", db, err.message);
		return false;
	}
	return true;
}

int64_t
bench_count(bench_t *b, const char *db, const char *coll_name, const char *json)
{
	mongoc_collection_t *coll = mongoc_client_get_collection(b->client, db, coll_name);
	bson_error_t err;
	bson_t *filter = bson_new_from_json((const uint8_t *)json, -1, &err);
	int64_t n = -1;

	if (filter != NULL)
		n = mongoc_collection_count_documents(coll, filter, NULL, NULL, NULL, &err);
	if (n < 0)
		bench_note("count %s: %s", coll_name, err.message);
	bson_destroy(filter);
	mongoc_collection_destroy(coll);
	return n;
}

bool
bench_wait_synced(bench_t *b, const char *db, const char *coll_name, double timeout_s)
{
	double until = bench_now_s() + timeout_s;
	int64_t left = -1;

	while (bench_now_s() < until &&
	    (left = bench_count(b, db, coll_name, "{\"state\": {\"$ne\": \"synced\"}}")) != 0)
		bench_sleep_ms(100);
	return left == 0;
}

/* ---- the daemon ---- */

bool
bench_daemon_start(bench_t *b, tsdaemon_t *d, const char *db, const char *tag,
    const char *const *env)
{
	char err[512], num[32];

	tsdaemon_init(d, tsmongo_uri(b->mongo), db, b->fx.base_url, BENCH_API_KEY);
	snprintf(d->stderr_path, sizeof(d->stderr_path), "%.100s/ticketsyncd-%.32s.log", b->o.workdir,
	    tag);
	/* The daemon's own defaults, except where the benchmark sets a figure on purpose
	 * (tsdaemon_init shortens timings for tests). */
	snprintf(num, sizeof(num), "%d", b->o.interval_ms);
	tsdaemon_setenv(d, "TICKETSYNC_PUSH_INTERVAL_MS", num);
	snprintf(num, sizeof(num), "%d", b->o.concurrency);
	tsdaemon_setenv(d, "TICKETSYNC_PUSH_CONCURRENCY", num);
	if (b->o.batch_size > 0) {
		snprintf(num, sizeof(num), "%ld", b->o.batch_size);
		tsdaemon_setenv(d, "TICKETSYNC_PUSH_BATCH_SIZE", num);
	}
	tsdaemon_setenv(d, "TICKETSYNC_PUSH_RETRY_BASE_MS", "1000");
	tsdaemon_setenv(d, "TICKETSYNC_PUSH_RETRY_MAX_MS", "300000");
	tsdaemon_setenv(d, "TICKETSYNC_WATCH_MAX_AWAIT_MS", "1000");
	tsdaemon_setenv(d, "TICKETSYNC_SERVICE_SHUTDOWN_TIMEOUT_MS", "10000");
	tsdaemon_setenv(d, "TICKETSYNC_EXTRAHOP_CA_FILE", b->fx.ca_file);
	tsdaemon_setenv(d, "TICKETSYNC_SERVICE_INSTANCE_ID", "bench");
	for (size_t i = 0; env != NULL && env[i] != NULL && env[i + 1] != NULL; i += 2)
		tsdaemon_setenv(d, env[i], env[i + 1]);
	if (tsdaemon_start(d, err, sizeof(err)) != 0) {
		bench_fail(b, "ticketsyncd (%s): %s (log %s)", tag, err, d->stderr_path);
		return false;
	}
	return true;
}

/* Streaming, the first-start rescan finished, every stored detection reconciled,
 * and then quiet for a moment. */
bool
bench_daemon_idle(bench_t *b, tsdaemon_t *d, long reconciles, double timeout_s)
{
	double deadline = ((double)clock_mono_ms() / 1e3) + timeout_s;

	while (((double)clock_mono_ms() / 1e3) < deadline) {
		if (tsdaemon_get(d, "/readyz", NULL) == 200 &&
		    tsdaemon_metric(d, "ticketsync_rescans_total") >= 1 &&
		    tsdaemon_metric(d, "ticketsync_reconciles_total") >= (double)reconciles) {
			bench_sleep_ms(500);
			return true;
		}
		bench_sleep_ms(50);
	}
	bench_fail(b, "ticketsyncd did not become ready and idle within %.0f s (log %s)",
	    timeout_s, d->stderr_path);
	return false;
}

void
bench_daemon_stop(bench_t *b, tsdaemon_t *d)
{
	int st = tsdaemon_stop(d, 30000);

	if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		bench_fail(b, "ticketsyncd did not shut down cleanly (status %d; log %s)", st,
		    d->stderr_path);
	tsdaemon_free(d);
}

/* ---- phases ---- */

static void
bench_ceiling(bench_t *b, bench_size_result_t *r)
{
	char bin[512], conns[16], reqs[32], ids[32], log[300], out[2048];
	char body[] = "{\"ticket_id\":\"TK-{id}\",\"status\":\"in_progress\","
	    "\"assignee\":\"analyst-{id}\"}";
	char *argv[] = { bin, "--url", b->fx.https_url, "--ca-file", b->fx.ca_file, "--api-key",
		BENCH_API_KEY, "--connections", conns, "--requests", reqs, "--ids", ids, "--body",
		body, NULL };
	int64_t acc = -1;
	int st;

	snprintf(bin, sizeof(bin), "%s/fake_extrahop_loadgen", tsproc_bin_dir());
	snprintf(conns, sizeof(conns), "%d", b->o.concurrency);
	snprintf(reqs, sizeof(reqs), "%ld", r->n);
	snprintf(ids, sizeof(ids), "%ld", r->n);
	snprintf(log, sizeof(log), "%s/loadgen.log", b->o.workdir);
	bench_reset_fake(b);
	bench_note("N=%ld ceiling: fake_extrahop_loadgen, %d connections", r->n, b->o.concurrency);
	st = bench_run(argv, log, 120 + (double)r->n / 100, out, sizeof(out));
	bench_stats(b, &acc, NULL);
	if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != 0 || acc != r->n) {
		bench_fail(b, "loadgen (N=%ld): exit %d, fake accepted %" PRId64 ": %s (see %s)",
		    r->n, st, acc, out, log);
		r->ok = false;
		return;
	}
	r->ceil_s = bench_kv(out, "seconds");
	r->ceil_rate = bench_kv(out, "req_per_s");
	r->ceil_p50 = bench_kv(out, "p50_ms");
	r->ceil_p99 = bench_kv(out, "p99_ms");
}

static void
bench_baseline(bench_t *b, bench_size_result_t *r)
{
	char csv[300], script[512], log[300], out[1024];
	char *argv[] = { (char *)b->o.python, script, "--host", b->fx.https_url, "--api-key",
		BENCH_API_KEY, "--ca-file", b->fx.ca_file, "--csv", csv, NULL };
	long rows = r->n;
	int64_t acc = -1;
	FILE *f;
	int st;

	if (b->o.baseline_limit > 0 && rows > b->o.baseline_limit)
		rows = b->o.baseline_limit;
	snprintf(csv, sizeof(csv), "%s/tickets-%ld.csv", b->o.workdir, r->n);
	snprintf(script, sizeof(script), "%s/tools/bench/baseline.py", tsproc_source_dir());
	snprintf(log, sizeof(log), "%s/baseline.log", b->o.workdir);
	/* The rows the hand-run script reads: the same tickets ticketsync gets, with
	 * ExtraHop's values already mapped (the script maps nothing). */
	if ((f = fopen(csv, "w")) == NULL) {
		bench_fail(b, "cannot write %s: %s", csv, strerror(errno));
		r->ok = false;
		return;
	}
	fprintf(f, "detection_id,ticket_id,status,assignee,resolution\n");
	for (long i = 1; i <= rows; i++)
		fprintf(f, "%ld,TK-%ld,in_progress,analyst-%ld,\n", i, i, i % BENCH_ASSIGNEES);
	fclose(f);
	bench_reset_fake(b);
	bench_note("N=%ld baseline: %s %s (%ld rows%s)", r->n, b->o.python, script, rows,
	    rows < r->n ? ", rate extrapolated to N" : "");
	st = bench_run(argv, log, 60 + (double)rows * 0.2, out, sizeof(out));
	bench_stats(b, &acc, NULL);
	if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != 0 || acc != rows ||
	    strstr(out, "BASELINE") == NULL) {
		bench_fail(b, "baseline (N=%ld): exit %d, fake accepted %" PRId64 " of %ld: %s "
		    "(see %s)", r->n, st, acc, rows, out, log);
		r->ok = false;
		return;
	}
	r->base_rows = rows;
	r->base_rate = bench_kv(out, "req_per_s");
	r->base_s = (double)r->n / r->base_rate;
}

typedef struct bench_check {
	long n;
	double t0_ms;           /* wall clock when the first ticket was written */
	long *timeline;         /* PATCH arrivals per 100 ms since t0 (--timeline) */
	long nbuckets;
	uint32_t *count;        /* PATCHes per id */
	long wrong, foreign, not_accepted;
	char first_wrong[256];
} bench_check_t;

static void
bench_check_patch(const bench_patch_t *p, void *arg)
{
	bench_check_t *c = arg;
	char tid[64], who[64];

	if (p->id < 1 || p->id > c->n) {
		c->foreign++;
		return;
	}
	if (p->status != 204) {
		c->not_accepted++;
		return;
	}
	c->count[p->id]++;
	if (c->timeline != NULL) {
		long k = (long)((p->time_ms - c->t0_ms) / 100);
		c->timeline[k < 0 ? 0 : k < c->nbuckets ? k : c->nbuckets - 1]++;
	}
	snprintf(tid, sizeof(tid), "TK-%" PRId64, p->id);
	snprintf(who, sizeof(who), "analyst-%" PRId64, p->id % BENCH_ASSIGNEES);
	/* Exactly what the ticket implies: its id, "In Progress" mapped, its assignee;
	 * resolution is null on both sides, so it is not sent. */
	if (p->ticket_id == NULL || strcmp(p->ticket_id, tid) != 0 || p->st == NULL ||
	    strcmp(p->st, "in_progress") != 0 || p->assignee == NULL ||
	    strcmp(p->assignee, who) != 0 || p->has_resolution) {
		if (c->wrong++ == 0)
			snprintf(c->first_wrong, sizeof(c->first_wrong),
			    "detection %" PRId64 ": ticket_id=%s status=%s assignee=%s%s", p->id,
			    p->ticket_id ? p->ticket_id : "(none)", p->st ? p->st : "(none)",
			    p->assignee ? p->assignee : "(none)",
			    p->has_resolution ? " resolution sent" : "");
	}
}

static void
bench_ticketsync(bench_t *b, bench_size_result_t *r)
{
	char db[96], tag[32];
	tsdaemon_t d;
	bench_check_t chk = { 0 };
	double t0, t1, cpu0, cpu1, n0, n1, f0, f1;
	int64_t seen = 0, since = 0;
	long missing = 0, dup = 0;

	memset(&d, 0, sizeof(d));
	d.proc.pid = -1;
	bench_dbname(b, "bench", db, sizeof(db));
	snprintf(tag, sizeof(tag), "n%ld", r->n);
	if (!bench_prepare_db(b, db) ||
	    !bench_insert(b, db, STORE_COLL_DETECTIONS, 1, r->n, NULL, NULL, 0) ||
	    !bench_daemon_start(b, &d, db, tag, NULL)) {
		r->ok = false;
		return;
	}
	bench_note("N=%ld ticketsync: %ld detections stored; waiting for ticketsyncd to be "
	    "streaming and idle", r->n, r->n);
	if (!bench_daemon_idle(b, &d, r->n, 120 + (double)r->n / 200)) {
		r->ok = false;
		goto done;
	}
	bench_reset_fake(b);
	bench_stats(b, NULL, &since);
	cpu0 = bench_cpu_s(d.proc.pid);
	n0 = bench_cpu_s(b->mongo->proc.pid);
	f0 = bench_cpu_s(b->fx.proc.pid);
	bench_note("N=%ld ticketsync: inserting %ld tickets", r->n, r->n);
	chk.t0_ms = (double)clock_wall_ms();
	t0 = ((double)clock_mono_ms() / 1e3);
	if (!bench_insert(b, db, STORE_COLL_TICKETS, 1, r->n, "In Progress", "TK", 0)) {
		r->ok = false;
		goto done;
	}
	r->write_s = ((double)clock_mono_ms() / 1e3) - t0;
	t1 = bench_wait_accepted(b, r->n, 60 + (double)r->n / 100, 10, &seen);
	cpu1 = bench_cpu_s(d.proc.pid);
	n1 = bench_cpu_s(b->mongo->proc.pid);
	f1 = bench_cpu_s(b->fx.proc.pid);
	if (t1 < 0) {
		bench_fail(b, "N=%ld: only %" PRId64 " of %ld PATCHes arrived in time (log %s)",
		    r->n, seen, r->n, d.stderr_path);
		r->ok = false;
	} else {
		r->ts_s = t1 - t0;
		r->ts_rate = (double)r->n / r->ts_s;
		r->ts_cpu_s = cpu1 - cpu0;
		r->node_cpu_s = b->mongo->proc.pid > 0 ? n1 - n0 : NAN;
		r->fake_cpu_s = f1 - f0;
	}
	/* Then check what arrived, after a moment for anything extra to show up: one PATCH
	 * per detection, each with exactly its ticket's fields. */
	bench_sleep_ms(b->o.interval_ms + 500);
	r->ts_rss_mb = bench_mem_mb(d.proc.pid, "VmHWM");
	chk.n = r->n;
	if (b->o.timeline) {
		chk.nbuckets = 600;
		chk.timeline = xcalloc((size_t)chk.nbuckets, sizeof(long));
	}
	chk.count = xcalloc((size_t)r->n + 1, sizeof(uint32_t));
	if (!bench_each_patch(b, &since, bench_check_patch, &chk)) {
		bench_fail(b, "N=%ld: cannot read the fake's recorded requests", r->n);
		r->ok = false;
		goto done;
	}
	for (long i = 1; i <= r->n; i++) {
		if (chk.count[i] == 0)
			missing++;
		else if (chk.count[i] > 1)
			dup++;
	}
	if (missing || dup || chk.wrong || chk.foreign || chk.not_accepted) {
		bench_fail(b, "N=%ld: %ld detections got no PATCH, %ld more than one, %ld a wrong "
		    "body (%s), %ld PATCHes for unknown ids, %ld not accepted", r->n, missing, dup,
		    chk.wrong, chk.first_wrong, chk.foreign, chk.not_accepted);
		r->ok = false;
	} else {
		bench_note("N=%ld ticketsync: every detection got exactly its PATCH", r->n);
	}
	if (chk.timeline != NULL) {
		long last = 0;

		for (long k = 0; k < chk.nbuckets; k++)
			if (chk.timeline[k] > 0)
				last = k;
		fprintf(stderr, "bench: N=%ld PATCH arrivals per 100 ms after the first ticket "
		    "write:", r->n);
		for (long k = 0; k <= last; k++)
			fprintf(stderr, "%s%ld", k % 10 == 0 ? "\n  " : " ", chk.timeline[k]);
		fputc('\n', stderr);
	}
done:
	free(chk.timeline);
	free(chk.count);
	bench_daemon_stop(b, &d);
}

typedef struct bench_steady_match {
	const double *write_ms; /* by change index */
	long base, changes;     /* this run's values are steady-<base> .. steady-<base+changes-1> */
	double *lat;
	long matched, unknown;
} bench_steady_match_t;

static void
bench_steady_patch(const bench_patch_t *p, void *arg)
{
	bench_steady_match_t *m = arg;
	long i;

	/* Each steady change gives one detection the assignee "steady-<i>". */
	if (p->status != 204 || p->assignee == NULL || strncmp(p->assignee, "steady-", 7) != 0)
		return;
	i = strtol(p->assignee + 7, NULL, 10) - m->base;
	if (i < 0 || i >= m->changes || m->lat[i] >= 0) {
		m->unknown++;
		return;
	}
	m->lat[i] = p->time_ms - m->write_ms[i];
	m->matched++;
}

/* Diagnosis of a lost push: the first few changes without a PATCH and what the
 * daemon's state says of their detections. */
static void
bench_show_unmatched(bench_t *b, const char *db, const bench_steady_match_t *m, long dets)
{
	mongoc_collection_t *coll = mongoc_client_get_collection(b->client, db, STORE_COLL_STATE);
	int shown = 0;

	for (long i = 0; i < m->changes && shown < 3; i++) {
		bson_t *filter;
		const bson_t *doc;
		mongoc_cursor_t *cur;

		if (m->lat[i] >= 0)
			continue;
		shown++;
		filter = BCON_NEW("_id", BCON_INT64(i % dets + 1));
		cur = mongoc_collection_find_with_opts(coll, filter, NULL, NULL);
		fprintf(stderr, "bench:   change %ld (TK-%ld -> steady-%ld, written %.3f s into "
		    "the run) got no PATCH; its state:", i, i % dets + 1, m->base + i,
		    (m->write_ms[i] - m->write_ms[0]) / 1e3);
		while (mongoc_cursor_next(cur, &doc)) {
			char *js = bson_as_relaxed_extended_json(doc, NULL);
			fprintf(stderr, " %s", js);
			bson_free(js);
		}
		fputc('\n', stderr);
		mongoc_cursor_destroy(cur);
		bson_destroy(filter);
	}
	mongoc_collection_destroy(coll);
}

bool
bench_steady_run(bench_t *b, tsdaemon_t *d, const char *db, long dets, const char *what,
    bench_steady_result_t *r)
{
	mongoc_collection_t *coll = NULL;
	long changes = (long)b->o.steady_rate * b->o.steady_seconds;
	double period_ms = 1000.0 / b->o.steady_rate, start, cpu0, deadline;
	double *write_ms = xcalloc((size_t)changes + 1, sizeof(double));
	double *lat = xcalloc((size_t)changes + 1, sizeof(double));
	bench_steady_match_t m = { write_ms, b->steady_seq, changes, lat, 0, 0 };
	int64_t since = 0;
	long late_writes = 0;

	r->ran = true;
	r->ok = false;
	r->changes = changes;
	if (changes <= 0 || dets <= 0)
		goto done;
	/* Only what arrives after this point counts; the fake is not reset, so other
	 * phases running meanwhile keep their records. */
	bench_stats(b, NULL, &since);
	b->steady_seq += changes;
	coll = mongoc_client_get_collection(b->client, db, STORE_COLL_TICKETS);
	for (long i = 0; i < changes; i++)
		lat[i] = -1;
	bench_note("latency%s: %ld ticket changes, one every %.1f ms", what, changes, period_ms);
	cpu0 = bench_cpu_s(d->proc.pid);
	start = bench_now_s();
	for (long i = 0; i < changes; i++) {
		double due = start + (double)i * period_ms / 1000.0, now = bench_now_s();
		bson_t filter = BSON_INITIALIZER, update = BSON_INITIALIZER, set;
		bson_error_t err;
		char tid[32], who[32];

		if (due > now)
			bench_sleep_ms((due - now) * 1000.0);
		else if (now - due > period_ms / 1000.0)
			late_writes++;
		snprintf(tid, sizeof(tid), "TK-%ld", i % dets + 1);
		snprintf(who, sizeof(who), "steady-%ld", m.base + i);
		BSON_APPEND_UTF8(&filter, "_id", tid);
		BSON_APPEND_DOCUMENT_BEGIN(&update, "$set", &set);
		BSON_APPEND_UTF8(&set, "assignee", who);
		write_ms[i] = (double)clock_wall_ms();
		BSON_APPEND_DATE_TIME(&set, "updated_at", (int64_t)write_ms[i]);
		bson_append_document_end(&update, &set);
		if (!mongoc_collection_update_one(coll, &filter, &update, NULL, NULL, &err))
			bench_fail(b, "steady change %ld: %s", i, err.message);
		bson_destroy(&filter);
		bson_destroy(&update);
	}
	r->seconds = bench_now_s() - start;
	if (late_writes > 0)
		bench_note("latency%s: %ld of %ld changes were written more than one period late "
		    "(this machine is busy)", what, late_writes, changes);
	/* Arrival times are the fake's own records, so how often this looks does not
	 * change the figures. */
	deadline = bench_now_s() + 2.0 * b->o.interval_ms / 1000 + 30;
	for (;;) {
		if (!bench_each_patch(b, &since, bench_steady_patch, &m)) {
			bench_fail(b, "latency%s: cannot read the fake's recorded requests", what);
			goto done;
		}
		if (m.matched >= changes || bench_now_s() > deadline)
			break;
		bench_sleep_ms(200);
	}
	r->daemon_cpu_s = bench_cpu_s(d->proc.pid) - cpu0;
	/* A moment for a second PATCH of the same change to show up. */
	bench_sleep_ms(b->o.interval_ms + 200);
	if (!bench_each_patch(b, &since, bench_steady_patch, &m)) {
		bench_fail(b, "latency%s: cannot read the fake's recorded requests", what);
		goto done;
	}
	r->matched = m.matched;
	if (m.matched != changes || m.unknown != 0) {
		bench_fail(b, "latency%s: %ld of %ld changes matched a PATCH (%ld unexpected; "
		    "log %s)", what, m.matched, changes, m.unknown, d->stderr_path);
		bench_show_unmatched(b, db, &m, dets);
		goto done;
	}
	qsort(lat, (size_t)changes, sizeof(double), bench_cmp_double);
	r->p50 = bench_percentile(lat, (size_t)changes, 50);
	r->p99 = bench_percentile(lat, (size_t)changes, 99);
	r->max = lat[changes - 1];
	r->mean = 0;
	for (long i = 0; i < changes; i++)
		r->mean += lat[i] / (double)changes;
	r->ok = true;
done:
	if (coll != NULL)
		mongoc_collection_destroy(coll);
	free(write_ms);
	free(lat);
	return r->ok;
}

static void
bench_steady(bench_t *b, bench_steady_result_t *r)
{
	char db[96];
	tsdaemon_t d;
	long changes = (long)b->o.steady_rate * b->o.steady_seconds;
	long dets = changes < BENCH_STEADY_DETECTIONS ? changes : BENCH_STEADY_DETECTIONS;

	memset(&d, 0, sizeof(d));
	d.proc.pid = -1;
	r->ran = true;
	r->ok = false;
	r->changes = changes;
	if (changes <= 0)
		return;
	bench_dbname(b, "steady", db, sizeof(db));
	if (!bench_prepare_db(b, db) ||
	    !bench_insert(b, db, STORE_COLL_DETECTIONS, 1, dets, NULL, NULL, 0) ||
	    !bench_insert(b, db, STORE_COLL_TICKETS, 1, dets, "In Progress", "TK", 0) ||
	    !bench_daemon_start(b, &d, db, "steady", NULL))
		goto done;
	/* Warm up: the first-start rescan pushes the initial tickets; then quiet. */
	bench_note("latency: %ld detections with tickets, first push", dets);
	if (!bench_daemon_idle(b, &d, dets, 120))
		goto done;
	if (!bench_wait_synced(b, db, STORE_COLL_STATE, 60)) {
		bench_fail(b, "latency: the first push did not complete (log %s)", d.stderr_path);
		goto done;
	}
	bench_sleep_ms(300);
	bench_reset_fake(b);
	bench_steady_run(b, &d, db, dets, "", r);
done:
	if (d.proc.pid > 0)
		bench_daemon_stop(b, &d);
}

static void
bench_pending(bench_t *b, bench_pending_result_t *r)
{
	char db[96];
	tsdaemon_t d;
	double t0, deadline;
	int64_t n = -1;

	memset(&d, 0, sizeof(d));
	d.proc.pid = -1;
	r->ran = true;
	r->ok = false;
	r->pending = b->o.pending;
	bench_dbname(b, "pending", db, sizeof(db));
	/* ExtraHop is down: every PATCH gets 503, so nothing leaves the outbox. */
	if (tsextrahop_set_fault(&b->fx, "{\"kind\": \"status\", \"status\": 503, "
	        "\"method\": \"PATCH\"}") < 0) {
		bench_fail(b, "pending: cannot set the 503 fault: %s", b->fx.error);
		return;
	}
	if (!bench_prepare_db(b, db) || !bench_daemon_start(b, &d, db, "pending", NULL) ||
	    !bench_daemon_idle(b, &d, 0, 120))
		goto done;
	bench_note("pending: %ld detections and tickets written while ExtraHop answers 503",
	    r->pending);
	t0 = ((double)clock_mono_ms() / 1e3);
	if (!bench_insert(b, db, STORE_COLL_DETECTIONS, 1, r->pending, NULL, NULL, 0) ||
	    !bench_insert(b, db, STORE_COLL_TICKETS, 1, r->pending, "In Progress", "TK", 0))
		goto done;
	deadline = t0 + 120 + (double)r->pending / 100;
	while (((double)clock_mono_ms() / 1e3) < deadline) {
		n = bench_count(b, db, STORE_COLL_STATE,
		    "{\"state\": {\"$in\": [\"pending\", \"in_flight\"]}}");
		if (n >= r->pending)
			break;
		bench_sleep_ms(1000);
	}
	if (n < r->pending) {
		bench_fail(b, "pending: only %" PRId64 " of %ld detections pending in time (log %s)",
		    n, r->pending, d.stderr_path);
		goto done;
	}
	r->reach_s = ((double)clock_mono_ms() / 1e3) - t0;
	/* Let the pusher cycle through its retries for a while at this size. */
	bench_sleep_ms(3000);
	r->rss_mb = bench_mem_mb(d.proc.pid, "VmRSS");
	r->hwm_mb = bench_mem_mb(d.proc.pid, "VmHWM");
	r->ok = true;
done:
	tsextrahop_clear_faults(&b->fx);
	if (d.proc.pid > 0)
		bench_daemon_stop(b, &d);
}

/* ---- report ---- */

void
bench_fmt(char *out, size_t len, double v, const char *fmt_kind)
{
	if (isnan(v) || v < 0)
		snprintf(out, len, "-");
	else if (strcmp(fmt_kind, "s") == 0)
		snprintf(out, len, "%.2f", v);
	else if (strcmp(fmt_kind, "rate") == 0)
		snprintf(out, len, "%.0f", v);
	else
		snprintf(out, len, "%.1f", v);
}

static void
bench_report(FILE *f, const bench_t *b, const bench_size_result_t *res, int nres,
    const bench_steady_result_t *sr, const bench_pending_result_t *pr, const char *machine)
{
	const bench_opts_t *o = &b->o;
	const bench_size_result_t *ten = NULL;
	double target_p99 = o->interval_ms + 100.0;

	fprintf(f, "ticketsync benchmark: %s\n", machine);
	fprintf(f, "fake ExtraHop over HTTPS, %d ms per request; ticketsyncd push concurrency %d, "
	    "interval %d ms, batch %s; MongoDB: %s\n\n", o->latency_ms, o->concurrency,
	    o->interval_ms, o->batch_size > 0 ? "set" : "default",
	    b->mongo->external ? "TICKETSYNC_TEST_MONGODB_URI" : "the Node test server");
	if (o->only_create || o->only_sweep)
		return;
	fprintf(f, "| N | baseline s | baseline req/s | ticketsync s | ticketsync req/s | "
	    "ceiling s | ceiling req/s | ticketsync/baseline | ticketsync/ceiling | "
	    "ticketsyncd CPU s | ticketsyncd peak RSS MB | test server CPU s | fake CPU s |\n");
	fprintf(f, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
	for (int i = 0; i < nres; i++) {
		const bench_size_result_t *r = &res[i];
		char c[13][32];

		bench_fmt(c[0], 32, r->base_s, "s");
		if (r->base_rows > 0 && r->base_rows < r->n)
			snprintf(c[0], 32, "~%.0f", r->base_s);
		bench_fmt(c[1], 32, r->base_rate, "x");
		bench_fmt(c[2], 32, r->ts_s, "s");
		bench_fmt(c[3], 32, r->ts_rate, "rate");
		bench_fmt(c[4], 32, r->ceil_s, "s");
		bench_fmt(c[5], 32, r->ceil_rate, "rate");
		if (r->ts_rate > 0 && r->base_rate > 0)
			snprintf(c[6], 32, "%.1fx", r->ts_rate / r->base_rate);
		else
			snprintf(c[6], 32, "-");
		if (r->ts_rate > 0 && r->ceil_rate > 0)
			snprintf(c[7], 32, "%.0f %%", 100.0 * r->ts_rate / r->ceil_rate);
		else
			snprintf(c[7], 32, "-");
		bench_fmt(c[8], 32, r->ts_cpu_s, "s");
		bench_fmt(c[9], 32, r->ts_rss_mb, "x");
		bench_fmt(c[10], 32, r->node_cpu_s, "s");
		bench_fmt(c[11], 32, r->fake_cpu_s, "s");
		fprintf(f, "| %ld | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
		    r->n, c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7], c[8], c[9], c[10], c[11]);
		if (r->n == 10000)
			ten = r;
	}
	for (int i = 0; i < nres; i++)
		if (res[i].base_rows > 0 && res[i].base_rows < res[i].n)
			fprintf(f, "\n~ N=%ld: the baseline sent the first %ld rows; its seconds are "
			    "N / its measured rate (it is strictly sequential).", res[i].n,
			    res[i].base_rows);
	fprintf(f, "\n");
	if (sr->ran && sr->ok)
		fprintf(f, "ticket change -> PATCH latency, %d changes/s for %d s (%ld changes): "
		    "p50 %.0f ms, p99 %.0f ms, max %.0f ms, mean %.0f ms (ticketsyncd CPU %.2f s)\n",
		    o->steady_rate, o->steady_seconds, sr->changes, sr->p50, sr->p99, sr->max,
		    sr->mean, sr->daemon_cpu_s);
	else if (sr->ran)
		fprintf(f, "ticket change -> PATCH latency: FAILED (%ld of %ld changes matched)\n",
		    sr->matched, sr->changes);
	if (pr->ran && pr->ok)
		fprintf(f, "memory with %ld pending detections (ExtraHop answering 503): VmRSS "
		    "%.1f MB, VmHWM %.1f MB (all pending %.1f s after the first write)\n",
		    pr->pending, pr->rss_mb, pr->hwm_mb, pr->reach_s);
	else if (pr->ran)
		fprintf(f, "memory with %ld pending detections: FAILED\n", pr->pending);

	fprintf(f, "\ntargets:\n");
	if (ten != NULL && ten->ts_rate > 0) {
		if (ten->base_rate > 0)
			fprintf(f, "  N=10,000 ticketsync >= 25x baseline: %.1fx  %s\n",
			    ten->ts_rate / ten->base_rate,
			    ten->ts_rate >= 25 * ten->base_rate ? "met" : "MISSED");
		if (ten->ceil_rate > 0)
			fprintf(f, "  N=10,000 ticketsync >= 60 %% of ceiling: %.0f %%  %s\n",
			    100 * ten->ts_rate / ten->ceil_rate,
			    ten->ts_rate >= 0.6 * ten->ceil_rate ? "met" : "MISSED");
	} else {
		fprintf(f, "  (throughput targets are defined at N=10,000: not run)\n");
	}
	if (sr->ran && sr->ok)
		fprintf(f, "  p99 latency <= push interval + 100 ms (%.0f ms): %.0f ms  %s\n",
		    target_p99, sr->p99, sr->p99 <= target_p99 ? "met" : "MISSED");
	if (pr->ran && pr->ok)
		fprintf(f, "  RSS < 64 MB with %ld pending: %.1f MB  %s%s\n", pr->pending,
		    pr->hwm_mb, pr->hwm_mb < 64 ? "met" : "MISSED",
		    pr->pending < 100000 ? " (fewer than 100,000 pending in this run)" : "");
}

/* ---- main ---- */

static void
bench_usage(FILE *f)
{
	fprintf(f,
	    "usage: ticketsync-bench [options]\n"
	    "  --sizes N[,N...]      sizes to run (default 1000,10000)\n"
	    "  --big                 add N=100000\n"
	    "  --latency-ms MS       fake ExtraHop per-request latency (default 2)\n"
	    "  --concurrency C       ticketsyncd [push] concurrency and loadgen connections (16)\n"
	    "  --interval-ms MS      ticketsyncd [push] interval_ms (default 1000)\n"
	    "  --batch-size B        ticketsyncd [push] batch_size (default: the daemon's)\n"
	    "  --steady-seconds S    latency phase length (default 10; 0 skips)\n"
	    "  --steady-rate R       ticket changes per second in it (default 100)\n"
	    "  --pending P           detections kept pending for the memory figure\n"
	    "                        (default 100000; 0 skips)\n"
	    "  --baseline-limit M    the baseline sends at most M rows, and its time for N is\n"
	    "                        extrapolated from its rate (default 10000 with --big, else all)\n"
	    "  --no-baseline, --no-ceiling\n"
	    "  --python PATH         interpreter for baseline.py (default /usr/bin/python3)\n"
	    "  --markdown FILE       also write the table to FILE\n"
	    "  --timeline            print PATCH arrivals per 100 ms of each ticketsync run\n"
	    "  --create N            ticket creations in the fake Jira under its rate limit,\n"
	    "                        with steady ticket changes alongside (default 5000; 0 skips)\n"
	    "  --create-faults M     creations through commit+drop and 503 faults (default\n"
	    "                        1000; 0 skips)\n"
	    "  --create-rate R       Jira's and [create]'s rate limit, writes/s (default 100)\n"
	    "  --create-concurrency C  [create] concurrency (default 8)\n"
	    "  --only-create         run only the ticket creation phases\n"
	    "  --sweep N             detections at ExtraHop for the sweep phase: sync-from-\n"
	    "                        extrahop of N, and steady ticket changes beside the\n"
	    "                        daemon's sweep (default 100000 with --big, else 20000;\n"
	    "                        0 skips)\n"
	    "  --sweep-page P        [sweep] page_size in it (default 1000, the daemon's)\n"
	    "  --only-sweep          run only the sweep phase\n"
	    "  --smoke               tiny run for CI: N=200, 2 s of steady changes, 1000\n"
	    "                        pending, 200 creations, 100 through faults, a sweep of\n"
	    "                        2000; checks every PATCH, ticket and repaired detection,\n"
	    "                        reports no targets\n"
	    "Exit status: 0 when every expected PATCH arrived exactly once with the right\n"
	    "fields in every phase and every detection got exactly one ticket; 1 otherwise; 2 on bad arguments. Targets are reported,\n"
	    "never turned into a failure.\n");
}

static bool
bench_parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
		return false;
	*out = v;
	return true;
}

static int
bench_parse(int argc, char **argv, bench_opts_t *o)
{
	static const struct option longopts[] = {
		{ "sizes", required_argument, NULL, 's' },
		{ "big", no_argument, NULL, 'B' },
		{ "latency-ms", required_argument, NULL, 'l' },
		{ "concurrency", required_argument, NULL, 'c' },
		{ "interval-ms", required_argument, NULL, 'i' },
		{ "batch-size", required_argument, NULL, 'b' },
		{ "steady-seconds", required_argument, NULL, 'S' },
		{ "steady-rate", required_argument, NULL, 'R' },
		{ "pending", required_argument, NULL, 'p' },
		{ "baseline-limit", required_argument, NULL, 'L' },
		{ "no-baseline", no_argument, NULL, 'x' },
		{ "no-ceiling", no_argument, NULL, 'y' },
		{ "python", required_argument, NULL, 'P' },
		{ "markdown", required_argument, NULL, 'm' },
		{ "smoke", no_argument, NULL, 'k' },
		{ "timeline", no_argument, NULL, 't' },
		{ "create", required_argument, NULL, 'C' },
		{ "create-faults", required_argument, NULL, 'F' },
		{ "create-rate", required_argument, NULL, 'r' },
		{ "create-concurrency", required_argument, NULL, 'n' },
		{ "only-create", no_argument, NULL, 'O' },
		{ "sweep", required_argument, NULL, 'W' },
		{ "sweep-page", required_argument, NULL, 'g' },
		{ "only-sweep", no_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool big = false, limit_set = false, create_set = false, faults_set = false;
	bool sweep_set = false;
	long v;
	int c;

	*o = (bench_opts_t){
		.sizes = { 1000, 10000 }, .nsizes = 2, .latency_ms = 2, .concurrency = 16,
		.interval_ms = 1000, .steady_seconds = 10, .steady_rate = 100, .pending = 100000,
		.create_n = 5000, .create_faults = 1000, .create_rate = 100,
		.create_concurrency = 8, .sweep_n = 20000, .sweep_page = 1000,
		.python = access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3",
	};
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 's': {
			char *copy = xstrdup(optarg), *save = NULL;
			o->nsizes = 0;
			for (char *t = strtok_r(copy, ",", &save); t != NULL;
			     t = strtok_r(NULL, ",", &save)) {
				if (o->nsizes == BENCH_MAX_SIZES ||
				    !bench_parse_long(t, 1, 10000000, &o->sizes[o->nsizes])) {
					fprintf(stderr, "bench: --sizes: bad size \"%s\"\n", t);
					free(copy);
					return 2;
				}
				o->nsizes++;
			}
			free(copy);
			break;
		}
		case 'B': big = true; break;
		case 'l': if (!bench_parse_long(optarg, 0, 60000, &v)) goto bad; o->latency_ms = (int)v; break;
		case 'c': if (!bench_parse_long(optarg, 1, 1024, &v)) goto bad; o->concurrency = (int)v; break;
		case 'i': if (!bench_parse_long(optarg, 10, 3600000, &v)) goto bad; o->interval_ms = (int)v; break;
		case 'b': if (!bench_parse_long(optarg, 1, 100000, &o->batch_size)) goto bad; break;
		case 'S': if (!bench_parse_long(optarg, 0, 3600, &v)) goto bad; o->steady_seconds = (int)v; break;
		case 'R': if (!bench_parse_long(optarg, 1, 10000, &v)) goto bad; o->steady_rate = (int)v; break;
		case 'p': if (!bench_parse_long(optarg, 0, 10000000, &o->pending)) goto bad; break;
		case 'L': if (!bench_parse_long(optarg, 0, 10000000, &o->baseline_limit)) goto bad;
			limit_set = true; break;
		case 'x': o->skip_baseline = true; break;
		case 'y': o->skip_ceiling = true; break;
		case 'P': o->python = optarg; break;
		case 'm': o->markdown = optarg; break;
		case 'k': o->smoke = true; break;
		case 't': o->timeline = true; break;
		case 'C': if (!bench_parse_long(optarg, 0, 1000000, &o->create_n)) goto bad;
			create_set = true; break;
		case 'F': if (!bench_parse_long(optarg, 0, 1000000, &o->create_faults)) goto bad;
			faults_set = true; break;
		case 'r': if (!bench_parse_long(optarg, 1, 10000, &v)) goto bad; o->create_rate = (int)v; break;
		case 'n': if (!bench_parse_long(optarg, 1, 64, &v)) goto bad; o->create_concurrency = (int)v; break;
		case 'O': o->only_create = true; break;
		case 'W': if (!bench_parse_long(optarg, 0, 10000000, &o->sweep_n)) goto bad;
			sweep_set = true; break;
		case 'g': if (!bench_parse_long(optarg, 1, 20000, &o->sweep_page)) goto bad; break;
		case 'o': o->only_sweep = true; break;
		case 'h': bench_usage(stdout); exit(0);
		default: bench_usage(stderr); return 2;
		}
	}
	if (optind < argc) {
		bench_usage(stderr);
		return 2;
	}
	if (o->smoke) {
		o->sizes[0] = 200;
		o->nsizes = 1;
		o->steady_seconds = 2;
		o->pending = 1000;
		if (!create_set)
			o->create_n = 200;
		if (!faults_set)
			o->create_faults = 100;
		if (!sweep_set)
			o->sweep_n = 2000;
	}
	if (o->only_create && o->only_sweep) {
		fprintf(stderr, "bench: --only-create and --only-sweep exclude each other\n");
		return 2;
	}
	if (big && !sweep_set && !o->smoke)
		o->sweep_n = 100000;
	if (o->only_create || o->only_sweep)
		o->nsizes = 0;
	if (o->only_create)
		o->sweep_n = 0;
	if (o->only_sweep)
		o->create_n = o->create_faults = 0;
	if (big && o->nsizes < BENCH_MAX_SIZES && !o->only_create && !o->only_sweep)
		o->sizes[o->nsizes++] = 100000;
	if (big && !limit_set)
		o->baseline_limit = 10000;
	return 0;
bad:
	fprintf(stderr, "bench: bad value \"%s\"\n", optarg);
	return 2;
}

int
main(int argc, char **argv)
{
	bench_t b;
	bench_size_result_t res[BENCH_MAX_SIZES];
	bench_steady_result_t sr = { 0 };
	bench_pending_result_t pr = { 0 };
	bench_create_result_t cr = { 0 };
	bench_create_fault_result_t cfr = { 0 };
	bench_sweep_result_t swr = { 0 };
	char err[512], machine[256];
	struct utsname un;
	double load[3] = { 0 };
	tsextrahop_opts_t fxo = { 0 };
	int rc;

	memset(&b, 0, sizeof(b));
	memset(res, 0, sizeof(res));
	if ((rc = bench_parse(argc, argv, &b.o)) != 0)
		return rc;
	snprintf(b.o.workdir, sizeof(b.o.workdir), "/tmp/ticketsync-bench.XXXXXX");
	if (mkdtemp(b.o.workdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	mongoc_init();
	uname(&un);
	getloadavg(load, 3);
	snprintf(machine, sizeof(machine), "%s %s, %ld cores, load average %.2f at start",
	    un.sysname, un.machine, sysconf(_SC_NPROCESSORS_ONLN), load[0]);
	bench_note("logs in %s", b.o.workdir);

	if ((b.mongo = tsmongo_start(err, sizeof(err))) == NULL) {
		fprintf(stderr, "bench: MongoDB: %s\n", err);
		rc = 1;
		goto cleanup;
	}
	b.client = tsmongo_client(b.mongo);
	fxo.api_key = BENCH_API_KEY;
	fxo.auto_create = true;
	fxo.tls = true;
	fxo.latency_ms = b.o.latency_ms;
	fxo.seed = 6;
	fxo.record_limit = 0; /* the fake's default, 100,000: enough to check every PATCH */
	{
		static char fxlog[300];
		snprintf(fxlog, sizeof(fxlog), "%s/fake-extrahop.log", b.o.workdir);
		fxo.stderr_path = fxlog;
	}
	if (tsextrahop_start(&b.fx, &fxo, err, sizeof(err)) != 0) {
		fprintf(stderr, "bench: fake ExtraHop: %s\n", err);
		rc = 1;
		goto cleanup;
	}
	b.fx_started = true;
	b.ctl = curl_easy_init();

	for (int i = 0; i < b.o.nsizes; i++) {
		res[i].n = b.o.sizes[i];
		res[i].ok = true;
		res[i].base_rate = res[i].base_s = res[i].ceil_rate = res[i].ceil_s = NAN;
		res[i].ts_rate = res[i].ts_s = res[i].ts_cpu_s = res[i].ts_rss_mb = NAN;
		res[i].node_cpu_s = res[i].fake_cpu_s = NAN;
		if (!b.o.skip_ceiling)
			bench_ceiling(&b, &res[i]);
		if (!b.o.skip_baseline)
			bench_baseline(&b, &res[i]);
		bench_ticketsync(&b, &res[i]);
	}
	if (b.o.steady_seconds > 0 && !b.o.only_create && !b.o.only_sweep)
		bench_steady(&b, &sr);
	if (b.o.pending > 0 && !b.o.only_create && !b.o.only_sweep)
		bench_pending(&b, &pr);
	if (b.o.create_n > 0)
		bench_create_rate(&b, &cr);
	if (b.o.create_faults > 0)
		bench_create_faults(&b, &cfr);
	if (b.o.sweep_n > 0)
		bench_sweep(&b, &swr);

	printf("\n");
	bench_report(stdout, &b, res, b.o.nsizes, &sr, &pr, machine);
	bench_create_report(stdout, &b, &cr, &cfr);
	bench_sweep_report(stdout, &b, &swr);
	if (b.o.markdown != NULL) {
		FILE *f = fopen(b.o.markdown, "w");
		if (f != NULL) {
			bench_report(f, &b, res, b.o.nsizes, &sr, &pr, machine);
			bench_create_report(f, &b, &cr, &cfr);
			bench_sweep_report(f, &b, &swr);
			fclose(f);
		} else {
			bench_note("cannot write %s: %s", b.o.markdown, strerror(errno));
		}
	}
	rc = b.failures > 0 ? 1 : 0;
	if (rc != 0)
		fprintf(stderr, "bench: %d check(s) failed; logs in %s\n", b.failures, b.o.workdir);
cleanup:
	if (b.ctl != NULL)
		curl_easy_cleanup(b.ctl);
	if (b.fx_started && tsextrahop_stop(&b.fx) != 0) {
		fprintf(stderr, "bench: the fake ExtraHop API did not stop cleanly\n");
		rc = 1;
	}
	if (b.client != NULL)
		mongoc_client_destroy(b.client);
	tsmongo_stop(b.mongo);
	mongoc_cleanup();
	curl_global_cleanup();
	return rc;
}
