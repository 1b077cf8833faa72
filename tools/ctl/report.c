/* report: tables, JSON, progress and summaries for ticketsyncctl; see report.h. */
#include "report.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "ticketsync/store.h"
#include "ticketsync/timefmt.h"
#include "ticketsync/xalloc.h"

struct report_table {
	size_t ncols;
	char **headers;
	size_t *max_width;
	bool *right;
	char **cells; /* rows * ncols */
	size_t nrows, caprows;
};

/* ---- text ---- */

size_t
report_width(const char *s)
{
	size_t w = 0;

	for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++)
		if ((*p & 0xc0) != 0x80)
			w++;
	return w;
}

/* 1234567 -> "1,234,567" */
static void
report_thousands(uint64_t v, char *buf, size_t buflen)
{
	char tmp[32];
	int len = snprintf(tmp, sizeof(tmp), "%" PRIu64, v);
	size_t n = 0;

	for (int i = 0; i < len && n + 2 < buflen; i++) {
		if (i > 0 && (len - i) % 3 == 0)
			buf[n++] = ',';
		buf[n++] = tmp[i];
	}
	buf[n] = '\0';
}

/* ---- tables ---- */

report_table_t *
report_table_new(size_t ncols, const char *const *headers)
{
	report_table_t *t = xcalloc(1, sizeof(*t));

	t->ncols = ncols;
	t->headers = xcalloc(ncols, sizeof(char *));
	t->max_width = xcalloc(ncols, sizeof(size_t));
	t->right = xcalloc(ncols, sizeof(bool));
	for (size_t i = 0; i < ncols; i++)
		t->headers[i] = bson_strdup(headers[i]);
	return t;
}

void
report_table_set_max_width(report_table_t *t, size_t col, size_t max_width)
{
	if (col < t->ncols)
		t->max_width[col] = max_width;
}

void
report_table_set_right(report_table_t *t, size_t col)
{
	if (col < t->ncols)
		t->right[col] = true;
}

void
report_table_add(report_table_t *t, const char *const *cells)
{
	if (t->nrows == t->caprows) {
		size_t cap = t->caprows ? t->caprows * 2 : 16;
		t->cells = xreallocarray(t->cells, cap * t->ncols, sizeof(char *));
		t->caprows = cap;
	}
	for (size_t c = 0; c < t->ncols; c++) {
		char buf[REPORT_CELL_MAX * 2];
		text_sanitize(buf, sizeof(buf), cells[c] ? cells[c] : "-", TEXT_STRLEN, t->max_width[c],
		    REPORT_TEXT_FLAGS);
		t->cells[t->nrows * t->ncols + c] = bson_strdup(buf);
	}
	t->nrows++;
}

size_t
report_table_rows(const report_table_t *t)
{
	return t->nrows;
}

static void
report_cell_print(FILE *out, const char *s, size_t width, bool right, bool last)
{
	size_t w = report_width(s);
	size_t pad = width > w ? width - w : 0;

	if (right)
		fprintf(out, "%*s", (int)pad, "");
	fputs(s, out);
	if (!right && !last)
		fprintf(out, "%*s", (int)pad, "");
}

void
report_table_print(const report_table_t *t, FILE *out)
{
	size_t *w = xcalloc(t->ncols, sizeof(size_t));

	for (size_t c = 0; c < t->ncols; c++) {
		w[c] = report_width(t->headers[c]);
		for (size_t r = 0; r < t->nrows; r++) {
			size_t cw = report_width(t->cells[r * t->ncols + c]);
			if (cw > w[c])
				w[c] = cw;
		}
	}
	for (size_t r = 0; r <= t->nrows; r++) {
		for (size_t c = 0; c < t->ncols; c++) {
			const char *s = r == 0 ? t->headers[c] : t->cells[(r - 1) * t->ncols + c];
			if (c > 0)
				fputs("  ", out);
			report_cell_print(out, s, w[c], t->right[c], c + 1 == t->ncols);
		}
		fputc('\n', out);
	}
	free(w);
}

void
report_table_free(report_table_t *t)
{
	if (t == NULL)
		return;
	for (size_t i = 0; i < t->nrows * t->ncols; i++)
		bson_free(t->cells[i]);
	free(t->cells);
	if (t->headers != NULL)
		for (size_t i = 0; i < t->ncols; i++)
			bson_free(t->headers[i]);
	free(t->headers);
	free(t->max_width);
	free(t->right);
	free(t);
}

/* ---- JSON ---- */

void
report_json_print(FILE *out, const bson_t *doc)
{
	char *json = bson_as_relaxed_extended_json(doc, NULL);

	if (json != NULL) {
		fputs(json, out);
		fputc('\n', out);
	}
	bson_free(json);
}

static void
report_append_time(bson_t *doc, const char *key, int64_t ms)
{
	char buf[TIMEFMT_ISO_MAX];

	timefmt_format_iso8601(ms, true, buf, sizeof(buf));
	BSON_APPEND_UTF8(doc, key, buf);
}

/* ---- progress ---- */

void
report_progress_text(char *buf, size_t buflen, uint64_t done, uint64_t total,
    int64_t elapsed_ms, bool bar, const char *unit)
{
	char d[32], tot[32], rate_s[32], eta[TIMEFMT_DURATION_MAX], el[TIMEFMT_DURATION_MAX];
	uint64_t rate = elapsed_ms > 0 ? done * 1000 / (uint64_t)elapsed_ms : 0;
	unsigned pct = total > 0 ? (unsigned)(done >= total ? 100 : done * 100 / total) : 0;

	if (unit == NULL)
		unit = "items";
	timefmt_format_duration(elapsed_ms, el, sizeof(el));
	if (!bar) {
		if (total > 0)
			snprintf(buf, buflen, "progress: %" PRIu64 "/%" PRIu64 " %s (%u%%), %" PRIu64
			    "/s, %s elapsed", done, total, unit, pct, rate, el);
		else
			snprintf(buf, buflen, "progress: %" PRIu64 " %s, %" PRIu64 "/s, %s elapsed",
			    done, unit, rate, el);
		return;
	}
	report_thousands(done, d, sizeof(d));
	report_thousands(total, tot, sizeof(tot));
	report_thousands(rate, rate_s, sizeof(rate_s));
	if (rate > 0 && total > done)
		timefmt_format_duration((int64_t)((total - done) * 1000 / rate), eta, sizeof(eta));
	else
		snprintf(eta, sizeof(eta), "-");
	if (total > 0) {
		char hashes[21];
		unsigned filled = pct / 5;
		for (unsigned i = 0; i < 20; i++)
			hashes[i] = i < filled ? '#' : '.';
		hashes[20] = '\0';
		snprintf(buf, buflen, "[%s] %3u%%  %s/%s %s  %s/s  ETA %s", hashes, pct, d, tot, unit,
		    rate_s, eta);
	} else {
		snprintf(buf, buflen, "%s %s  %s/s  %s", d, unit, rate_s, el);
	}
}

/* ---- backfill ---- */

void
report_refresh_summary(const refresh_stats_t *s, char *buf, size_t buflen)
{
	snprintf(buf, buflen, "scanned %" PRIu64 ", in sync %" PRIu64 ", queued %" PRIu64
	    ", unchanged %" PRIu64 ", unmapped %" PRIu64 ", rejected %" PRIu64 ", no ticket %" PRIu64
	    ", missing %" PRIu64, s->scanned, s->in_sync, s->queued, s->unchanged, s->unmapped,
	    s->rejected, s->no_ticket, s->missing);
}

typedef struct report_status_count {
	uint64_t count;
	const char *status;
} report_status_count_t;

/* Most frequent first, ties by name. */
static int
report_cmp_status_count(const void *a, const void *b)
{
	const report_status_count_t *x = a, *y = b;

	if (x->count != y->count)
		return (x->count < y->count) - (x->count > y->count);
	return strcmp(x->status, y->status);
}

void
report_unmapped_summary(const refresh_stats_t *s, char *buf, size_t buflen)
{
	report_status_count_t sorted[REFRESH_STATUSES_MAX];
	size_t n = s->n_unmapped_statuses, len;

	if (buflen == 0)
		return;
	buf[0] = '\0';
	if (n == 0)
		return;
	for (size_t i = 0; i < n; i++) {
		sorted[i].count = s->unmapped_statuses[i].count;
		sorted[i].status = s->unmapped_statuses[i].status;
	}
	qsort(sorted, n, sizeof(sorted[0]), report_cmp_status_count);
	snprintf(buf, buflen, "unmapped statuses (nothing pushed for them; add them under "
	    "[statusmap]):");
	for (size_t i = 0; i < n; i++) {
		len = strlen(buf);
		snprintf(buf + len, buflen - len, "%s \"%s\" %" PRIu64, i > 0 ? "," : "",
		    sorted[i].status, sorted[i].count);
	}
	if (s->unmapped_other > 0) {
		len = strlen(buf);
		snprintf(buf + len, buflen - len, "; %" PRIu64 " more in other statuses",
		    s->unmapped_other);
	}
}

/* ---- status ---- */

static void
report_age(int64_t now, int64_t then, char *buf, size_t buflen)
{
	char d[TIMEFMT_DURATION_MAX];

	timefmt_format_duration(now - then, d, sizeof(d));
	snprintf(buf, buflen, "%s ago", d);
}

/* Whether ticket creation has ever queued anything here. */
static bool
report_create_used(const overview_t *o)
{
	const outbox_counts_t *k = &o->create_counts;

	return k->pending + k->in_flight + k->synced + k->parked > 0;
}

static void
report_parked_table(FILE *out, const char *what, const overview_parked_t *list, size_t n,
    int64_t total)
{
	static const char *const h[] = { "DETECTION", "TICKET", "PARKED AT", "ATTEMPTS", "REASON" };
	report_table_t *tbl;

	if (n == 0)
		return;
	tbl = report_table_new(5, h);
	report_table_set_right(tbl, 0);
	report_table_set_right(tbl, 3);
	report_table_set_max_width(tbl, 4, 100);
	fprintf(out, "\n%s (oldest %zu of %lld):\n", what, n, (long long)total);
	for (size_t i = 0; i < n; i++) {
		const overview_parked_t *p = &list[i];
		char id[24], att[16], at[TIMEFMT_ISO_MAX];
		const char *cells[5] = { id, p->ticket_id[0] ? p->ticket_id : NULL, at, att, p->reason };

		snprintf(id, sizeof(id), "%lld", (long long)p->id);
		snprintf(att, sizeof(att), "%d", (int)p->attempts);
		timefmt_format_iso8601(p->parked_at_ms, false, at, sizeof(at));
		report_table_add(tbl, cells);
	}
	report_table_print(tbl, out);
	report_table_free(tbl);
}

/* Tickets waiting for their detections (an ODS write lost, or a typo in an import). */
static void
report_orphans(FILE *out, const orphan_report_t *r)
{
	char n[32], tk[FIELDS_TICKET_ID_MAX * 2 + 8];

	if (r->tickets == 0)
		return;
	report_thousands((uint64_t)r->tickets, n, sizeof(n));
	fprintf(out, "\ntickets naming detections not in MongoDB: %s (stored; each is pushed "
	    "once its detection arrives)\n", n);
	for (size_t i = 0; i < r->nlist; i++) {
		text_sanitize(tk, sizeof(tk), r->list[i].ticket_id, TEXT_STRLEN, 0, REPORT_TEXT_FLAGS);
		fprintf(out, "  %-24s detection %lld", tk, (long long)r->list[i].detection_id);
		if (r->list[i].n_missing > 1)
			fprintf(out, " and %zu more", r->list[i].n_missing - 1);
		fputc('\n', out);
	}
	if (r->tickets > r->nlist)
		fprintf(out, "  ... and %zu more (ticketsyncctl audit --event unknown_detection)\n",
		    r->tickets - r->nlist);
}

void
report_status_print(FILE *out, const overview_t *o)
{
	char now[TIMEFMT_ISO_MAX], t[TIMEFMT_ISO_MAX], a[64], n[32];
	const outbox_counts_t *c = &o->counts;

	timefmt_format_iso8601(o->now_ms, false, now, sizeof(now));
	fprintf(out, "ticketsync status at %s\n\n", now);
	report_thousands((uint64_t)c->pending, n, sizeof(n));
	fprintf(out, "  pending       %12s", n);
	report_thousands((uint64_t)c->due, n, sizeof(n));
	fprintf(out, "   due now %s", n);
	if (c->oldest_pending_age_ms >= 0) {
		timefmt_format_duration(c->oldest_pending_age_ms, a, sizeof(a));
		fprintf(out, ", oldest change waiting %s", a);
	}
	fputc('\n', out);
	report_thousands((uint64_t)c->in_flight, n, sizeof(n));
	fprintf(out, "  in flight     %12s\n", n);
	report_thousands((uint64_t)c->synced, n, sizeof(n));
	fprintf(out, "  synced        %12s\n", n);
	report_thousands((uint64_t)c->parked, n, sizeof(n));
	fprintf(out, "  parked        %12s%s\n", n, c->parked > 0 ? "   (replay-parked queues them again)" : "");
	fputc('\n', out);

	if (o->has_last_push) {
		char tk[FIELDS_TICKET_ID_MAX * 2 + 8];
		timefmt_format_iso8601(o->last_push_ms, false, t, sizeof(t));
		report_age(o->now_ms, o->last_push_ms, a, sizeof(a));
		text_sanitize(tk, sizeof(tk), o->last_push_ticket, TEXT_STRLEN, 0, REPORT_TEXT_FLAGS);
		fprintf(out, "  last push     %s (%s): detection %lld, ticket %s, HTTP %d\n", t, a,
		    (long long)o->last_push_detection, tk[0] ? tk : "-", o->last_push_http);
	} else {
		fprintf(out, "  last push     never\n");
	}
	if (o->has_checkpoint) {
		timefmt_format_iso8601(o->checkpoint_saved_ms, false, t, sizeof(t));
		report_age(o->now_ms, o->checkpoint_saved_ms, a, sizeof(a));
		fprintf(out, "  checkpoint    saved %s (%s)", t, a);
		if (o->has_stream_time) {
			timefmt_format_duration(o->now_ms - o->stream_time_ms, a, sizeof(a));
			fprintf(out, ", stream position %s behind", a);
		}
		fputc('\n', out);
	} else {
		fprintf(out, "  checkpoint    none (ticketsyncd has not saved a stream position yet)\n");
	}
	if (!o->lease.found) {
		fprintf(out, "  active        none (no ticketsyncd has taken the lease yet)\n");
	} else {
		char h[LEASE_HOLDER_MAX * 2 + 8];
		text_sanitize(h, sizeof(h), o->lease.holder, TEXT_STRLEN, 0, REPORT_TEXT_FLAGS);
		if (o->lease.expires_at_ms > o->lease.server_now_ms) {
			timefmt_format_duration(o->lease.expires_at_ms - o->lease.server_now_ms, a,
			    sizeof(a));
			fprintf(out, "  active        %s (lease fencing token %lld, expires in %s "
			    "unless renewed)\n", h, (long long)o->lease.fencing, a);
		} else {
			fprintf(out, "  active        none: the lease of %s has expired (fencing token "
			    "%lld)\n", h, (long long)o->lease.fencing);
		}
	}
	fprintf(out, "  audit events  ");
	if (o->n_events == 0)
		fprintf(out, "none");
	for (size_t i = 0; i < o->n_events; i++) {
		report_thousands((uint64_t)o->events[i].count, n, sizeof(n));
		fprintf(out, "%s%s %s", i ? ", " : "", o->events[i].event, n);
	}
	fputc('\n', out);

	if (o->has_sweep_cursor || o->has_last_sweep) {
		fprintf(out, "  sweep         ");
		if (o->has_sweep_cursor) {
			timefmt_format_iso8601(o->sweep_cursor_ms, false, t, sizeof(t));
			report_age(o->now_ms, o->sweep_cursor_ms, a, sizeof(a));
			fprintf(out, "read up to mod_time %s (%s)", t, a);
		}
		if (o->has_last_sweep) {
			char msg[600];

			report_age(o->now_ms, o->last_sweep_ms, a, sizeof(a));
			text_sanitize(msg, sizeof(msg), o->last_sweep, TEXT_STRLEN, 0, REPORT_TEXT_FLAGS);
			fprintf(out, "%slast sweep %s: %s", o->has_sweep_cursor ? "; " : "", a, msg);
		}
		fputc('\n', out);
	}
	report_parked_table(out, "parked detections", o->parked, o->n_parked, c->parked);
	report_orphans(out, &o->orphans);
	if (report_create_used(o)) {
		const outbox_counts_t *k = &o->create_counts;

		fprintf(out, "\nticket creation ([create]; ticketsync_create_state)\n");
		report_thousands((uint64_t)k->pending, n, sizeof(n));
		fprintf(out, "  queued        %12s", n);
		report_thousands((uint64_t)k->due, n, sizeof(n));
		fprintf(out, "   due now %s", n);
		if (k->oldest_pending_age_ms >= 0) {
			timefmt_format_duration(k->oldest_pending_age_ms, a, sizeof(a));
			fprintf(out, ", oldest waiting %s", a);
		}
		fputc('\n', out);
		report_thousands((uint64_t)k->in_flight, n, sizeof(n));
		fprintf(out, "  in flight     %12s\n", n);
		report_thousands((uint64_t)k->synced, n, sizeof(n));
		fprintf(out, "  created       %12s\n", n);
		report_thousands((uint64_t)k->parked, n, sizeof(n));
		fprintf(out, "  parked        %12s%s\n", n,
		    k->parked > 0 ? "   (replay-parked --create queues them again)" : "");
		report_parked_table(out, "parked creations", o->create_parked, o->n_create_parked,
		    k->parked);
	}
}

static void
report_parked_json(bson_t *out, const overview_parked_t *list, size_t n)
{
	bson_t arr, item;

	BSON_APPEND_ARRAY_BEGIN(out, "parked_list", &arr);
	for (size_t i = 0; i < n; i++) {
		const overview_parked_t *p = &list[i];
		char k[16];
		const char *key;

		bson_uint32_to_string((uint32_t)i, &key, k, sizeof(k));
		BSON_APPEND_DOCUMENT_BEGIN(&arr, key, &item);
		BSON_APPEND_INT64(&item, "detection_id", p->id);
		if (p->ticket_id[0])
			BSON_APPEND_UTF8(&item, "ticket_id", p->ticket_id);
		else
			BSON_APPEND_NULL(&item, "ticket_id");
		BSON_APPEND_UTF8(&item, "reason", p->reason);
		if (p->parked_at_ms > 0)
			report_append_time(&item, "parked_at", p->parked_at_ms);
		else
			BSON_APPEND_NULL(&item, "parked_at");
		BSON_APPEND_INT32(&item, "attempts", p->attempts);
		BSON_APPEND_INT64(&item, "version", p->version);
		bson_append_document_end(&arr, &item);
	}
	bson_append_array_end(out, &arr);
}

void
report_status_json(const overview_t *o, bson_t *out)
{
	const outbox_counts_t *c = &o->counts;
	bson_t sub;

	bson_init(out);
	report_append_time(out, "now", o->now_ms);
	BSON_APPEND_INT64(out, "pending", c->pending);
	BSON_APPEND_INT64(out, "in_flight", c->in_flight);
	BSON_APPEND_INT64(out, "synced", c->synced);
	BSON_APPEND_INT64(out, "parked", c->parked);
	BSON_APPEND_INT64(out, "due", c->due);
	if (c->oldest_pending_age_ms >= 0)
		BSON_APPEND_INT64(out, "oldest_pending_age_ms", c->oldest_pending_age_ms);
	else
		BSON_APPEND_NULL(out, "oldest_pending_age_ms");
	report_parked_json(out, o->parked, o->n_parked);
	if (o->has_sweep_cursor || o->has_last_sweep) {
		BSON_APPEND_DOCUMENT_BEGIN(out, "sweep", &sub);
		if (o->has_sweep_cursor)
			report_append_time(&sub, "cursor", o->sweep_cursor_ms);
		else
			BSON_APPEND_NULL(&sub, "cursor");
		if (o->has_last_sweep) {
			report_append_time(&sub, "last_at", o->last_sweep_ms);
			BSON_APPEND_UTF8(&sub, "last", o->last_sweep);
		}
		bson_append_document_end(out, &sub);
	} else {
		BSON_APPEND_NULL(out, "sweep");
	}
	BSON_APPEND_DOCUMENT_BEGIN(out, "unknown_detections", &sub);
	BSON_APPEND_INT64(&sub, "tickets", (int64_t)o->orphans.tickets);
	BSON_APPEND_INT64(&sub, "detections", (int64_t)o->orphans.detections);
	{
		bson_t arr, item;

		BSON_APPEND_ARRAY_BEGIN(&sub, "list", &arr);
		for (size_t i = 0; i < o->orphans.nlist; i++) {
			char k[16];
			const char *key;

			bson_uint32_to_string((uint32_t)i, &key, k, sizeof(k));
			BSON_APPEND_DOCUMENT_BEGIN(&arr, key, &item);
			BSON_APPEND_UTF8(&item, "ticket_id", o->orphans.list[i].ticket_id);
			BSON_APPEND_INT64(&item, "detection_id", o->orphans.list[i].detection_id);
			BSON_APPEND_INT64(&item, "missing", (int64_t)o->orphans.list[i].n_missing);
			bson_append_document_end(&arr, &item);
		}
		bson_append_array_end(&sub, &arr);
	}
	bson_append_document_end(out, &sub);
	BSON_APPEND_DOCUMENT_BEGIN(out, "create", &sub);
	BSON_APPEND_INT64(&sub, "pending", o->create_counts.pending);
	BSON_APPEND_INT64(&sub, "in_flight", o->create_counts.in_flight);
	BSON_APPEND_INT64(&sub, "created", o->create_counts.synced);
	BSON_APPEND_INT64(&sub, "parked", o->create_counts.parked);
	BSON_APPEND_INT64(&sub, "due", o->create_counts.due);
	report_parked_json(&sub, o->create_parked, o->n_create_parked);
	bson_append_document_end(out, &sub);
	if (o->has_last_push) {
		BSON_APPEND_DOCUMENT_BEGIN(out, "last_push", &sub);
		report_append_time(&sub, "at", o->last_push_ms);
		BSON_APPEND_INT64(&sub, "age_ms", o->now_ms - o->last_push_ms);
		BSON_APPEND_INT64(&sub, "detection_id", o->last_push_detection);
		if (o->last_push_ticket[0])
			BSON_APPEND_UTF8(&sub, "ticket_id", o->last_push_ticket);
		else
			BSON_APPEND_NULL(&sub, "ticket_id");
		BSON_APPEND_INT32(&sub, "http_status", o->last_push_http);
		if (o->last_push_instance[0])
			BSON_APPEND_UTF8(&sub, "instance", o->last_push_instance);
		bson_append_document_end(out, &sub);
	} else {
		BSON_APPEND_NULL(out, "last_push");
	}
	if (o->has_checkpoint) {
		BSON_APPEND_DOCUMENT_BEGIN(out, "checkpoint", &sub);
		report_append_time(&sub, "saved_at", o->checkpoint_saved_ms);
		BSON_APPEND_INT64(&sub, "age_ms", o->now_ms - o->checkpoint_saved_ms);
		if (o->has_stream_time) {
			report_append_time(&sub, "stream_time", o->stream_time_ms);
			BSON_APPEND_INT64(&sub, "lag_ms", o->now_ms - o->stream_time_ms);
		} else {
			BSON_APPEND_NULL(&sub, "stream_time");
			BSON_APPEND_NULL(&sub, "lag_ms");
		}
		bson_append_document_end(out, &sub);
	} else {
		BSON_APPEND_NULL(out, "checkpoint");
	}
	if (o->lease.found) {
		BSON_APPEND_DOCUMENT_BEGIN(out, "lease", &sub);
		BSON_APPEND_UTF8(&sub, "holder", o->lease.holder);
		BSON_APPEND_INT64(&sub, "fencing", o->lease.fencing);
		report_append_time(&sub, "expires_at", o->lease.expires_at_ms);
		BSON_APPEND_BOOL(&sub, "active", o->lease.expires_at_ms > o->lease.server_now_ms);
		bson_append_document_end(out, &sub);
	} else {
		BSON_APPEND_NULL(out, "lease");
	}
	BSON_APPEND_DOCUMENT_BEGIN(out, "events", &sub);
	for (size_t i = 0; i < o->n_events; i++)
		BSON_APPEND_INT64(&sub, o->events[i].event, o->events[i].count);
	bson_append_document_end(out, &sub);
}

/* ---- audit ---- */

const char *const report_audit_headers[REPORT_AUDIT_COLS] = {
	"TIME", "EVENT", "DETECTION", "TICKET", "HTTP", "VERSION/ATTEMPT", "FIELDS", "MESSAGE",
};

void
report_audit_cells(const bson_t *rec, char cells[REPORT_AUDIT_COLS][REPORT_CELL_MAX])
{
	bson_iter_t it;
	int64_t v;
	char ver[24] = "-", att[16] = "-";

	for (int i = 0; i < REPORT_AUDIT_COLS; i++)
		snprintf(cells[i], REPORT_CELL_MAX, "-");
	if (bson_iter_init_find(&it, rec, "at") && BSON_ITER_HOLDS_DATE_TIME(&it))
		timefmt_format_iso8601(bson_iter_date_time(&it), false, cells[0], REPORT_CELL_MAX);
	if (bson_iter_init_find(&it, rec, "event") && BSON_ITER_HOLDS_UTF8(&it))
		text_sanitize(cells[1], REPORT_CELL_MAX, bson_iter_utf8(&it, NULL), TEXT_STRLEN, 0,
		    REPORT_TEXT_FLAGS);
	if (bson_iter_init_find(&it, rec, "detection_id") && store_iter_int64(&it, &v))
		snprintf(cells[2], REPORT_CELL_MAX, "%lld", (long long)v);
	if (bson_iter_init_find(&it, rec, "ticket_id") && BSON_ITER_HOLDS_UTF8(&it))
		text_sanitize(cells[3], REPORT_CELL_MAX, bson_iter_utf8(&it, NULL), TEXT_STRLEN, 0,
		    REPORT_TEXT_FLAGS);
	if (bson_iter_init_find(&it, rec, "http_status") && store_iter_int64(&it, &v))
		snprintf(cells[4], REPORT_CELL_MAX, "%lld", (long long)v);
	if (bson_iter_init_find(&it, rec, "version") && store_iter_int64(&it, &v))
		snprintf(ver, sizeof(ver), "%lld", (long long)v);
	if (bson_iter_init_find(&it, rec, "attempt") && store_iter_int64(&it, &v))
		snprintf(att, sizeof(att), "%lld", (long long)v);
	if (strcmp(ver, "-") != 0 || strcmp(att, "-") != 0)
		snprintf(cells[5], REPORT_CELL_MAX, "%s/%s", ver, att);
	if (bson_iter_init_find(&it, rec, "fields") && BSON_ITER_HOLDS_DOCUMENT(&it)) {
		bson_iter_t f;
		bson_string_t *str = bson_string_new(NULL);

		/* What was sent, key=value (a sub-document, e.g. a creation's, as JSON). */
		if (bson_iter_recurse(&it, &f))
			while (bson_iter_next(&f)) {
				bson_string_append_printf(str, "%s%s=", str->len ? " " : "", bson_iter_key(&f));
				if (BSON_ITER_HOLDS_UTF8(&f))
					bson_string_append(str, bson_iter_utf8(&f, NULL));
				else if (BSON_ITER_HOLDS_NULL(&f))
					bson_string_append(str, "null");
				else if (store_iter_int64(&f, &v))
					bson_string_append_printf(str, "%lld", (long long)v);
				else
					bson_string_append(str, "...");
			}
		if (str->len > 0)
			text_sanitize(cells[6], REPORT_CELL_MAX, str->str, str->len, 0, REPORT_TEXT_FLAGS);
		bson_string_free(str, true);
	}
	if (bson_iter_init_find(&it, rec, "message") && BSON_ITER_HOLDS_UTF8(&it))
		text_sanitize(cells[7], REPORT_CELL_MAX, bson_iter_utf8(&it, NULL), TEXT_STRLEN, 0,
		    REPORT_TEXT_FLAGS);
}

report_table_t *
report_audit_table_new(void)
{
	report_table_t *t = report_table_new(REPORT_AUDIT_COLS, report_audit_headers);

	report_table_set_right(t, 2);
	report_table_set_right(t, 4);
	report_table_set_max_width(t, 6, 60);
	report_table_set_max_width(t, 7, 120);
	return t;
}

void
report_audit_json(const bson_t *rec, bson_t *out)
{
	bson_iter_t it;

	bson_init(out);
	if (!bson_iter_init(&it, rec))
		return;
	while (bson_iter_next(&it)) {
		const char *key = bson_iter_key(&it);

		if (strcmp(key, "_id") == 0)
			continue;
		if (BSON_ITER_HOLDS_DATE_TIME(&it))
			report_append_time(out, key, bson_iter_date_time(&it));
		else
			bson_append_iter(out, key, -1, &it);
	}
}
