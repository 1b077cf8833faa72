/* importer: CSV / JSON Lines ticket exports -> tickets + per-line errors; see importer.h. */
#include "ticketsync/importer.h"

#include <csv.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ticketsync/detection.h"
#include "ticketsync/fields.h"
#include "ticketsync/jsonerr.h"
#include "ticketsync/statusmap.h"
#include "ticketsync/text.h"
#include "ticketsync/timefmt.h"
#include "ticketsync/xalloc.h"

/* Warnings kept in full; the rest are only counted in a last one. */
#define IMPORTER_WARNINGS_MAX 100

enum imp_col {
	COL_DETECTION_ID = 0,
	COL_TICKET_ID,
	COL_STATUS,
	COL_ASSIGNEE,
	COL_RESOLUTION,
	COL_UPDATED_AT,
	COL_STATUS_CATEGORY,
	COL_COUNT
};

static const char *const imp_col_names[COL_COUNT] = {
	"detection_id", "ticket_id", "status", "assignee", "resolution", "updated_at",
	"status_category",
};

/* One good row, before rows of the same ticket are merged. */
typedef struct imp_row {
	char *ticket_id;
	int64_t *ids;
	size_t nids;
	unsigned given;
	char *status, *assignee, *resolution, *status_category;
	int64_t updated_at;
	size_t line;
} imp_row_t;

typedef struct imp_field {
	char *data;
	size_t len;
} imp_field_t;

typedef struct imp {
	importer_result_t *out;
	imp_row_t *rows;
	size_t nrows, caprows;
	size_t caperrs, capwarns, nwarns_dropped;
	/* CSV state */
	bool have_header;
	int col_of[COL_COUNT];  /* column index of each known field, -1 if absent */
	size_t ncols;
	imp_field_t *fields;
	size_t nfields, capfields;
	bool in_record;
	size_t rec_line, cur_line;
} imp_t;

static void imp_issue(importer_issue_t **arr, size_t *n, size_t *cap, size_t line,
    const char *fmt, va_list ap) BSON_GNUC_PRINTF(5, 0);

static void
imp_issue(importer_issue_t **arr, size_t *n, size_t *cap, size_t line, const char *fmt,
    va_list ap)
{
	xgrow((void **)arr, cap, *n + 1, sizeof(importer_issue_t));
	(*arr)[*n].line = line;
	(*arr)[*n].message = bson_strdupv_printf(fmt, ap);
	(*n)++;
}

static void imp_error(imp_t *im, size_t line, const char *fmt, ...) BSON_GNUC_PRINTF(3, 4);

static void
imp_error(imp_t *im, size_t line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	imp_issue(&im->out->errors, &im->out->n_errors, &im->caperrs, line, fmt, ap);
	va_end(ap);
}

static void imp_warn(imp_t *im, size_t line, const char *fmt, ...) BSON_GNUC_PRINTF(3, 4);

static void
imp_warn(imp_t *im, size_t line, const char *fmt, ...)
{
	va_list ap;

	if (im->out->n_warnings >= IMPORTER_WARNINGS_MAX) {
		im->nwarns_dropped++;
		return;
	}
	va_start(ap, fmt);
	imp_issue(&im->out->warnings, &im->out->n_warnings, &im->capwarns, line, fmt, ap);
	va_end(ap);
}

static void
imp_row_free(imp_row_t *r)
{
	bson_free(r->ticket_id);
	free(r->ids);
	bson_free(r->status);
	bson_free(r->assignee);
	bson_free(r->resolution);
	bson_free(r->status_category);
	memset(r, 0, sizeof(*r));
}

/* ---- value checks shared by both formats ---- */

/*
 * A text value: valid UTF-8, no NUL or other control character, at most max bytes.
 * Empty means null (*out NULL). On a problem, why gets the reason.
 */
static bool
imp_text(const char *v, size_t len, size_t max, char **out, char *why, size_t whylen)
{
	*out = NULL;
	if (len == 0)
		return true;
	if (len > max) {
		snprintf(why, whylen, "is %zu bytes long; at most %zu are allowed", len, max);
		return false;
	}
	if (!bson_utf8_validate(v, len, false)) {
		snprintf(why, whylen, "is not valid UTF-8");
		return false;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)v[i];
		if (c == '\n' || c == '\r') {
			snprintf(why, whylen, "contains a line break");
			return false;
		}
		if (c < 0x20 || c == 0x7f) {
			snprintf(why, whylen, "contains the control character 0x%02x", c);
			return false;
		}
	}
	*out = bson_strndup(v, len);
	return true;
}

/* Quote a value for a message: at most 40 characters, valid UTF-8, controls as spaces. */
static void
imp_quote(const char *v, size_t len, char *buf, size_t buflen)
{
	text_sanitize(buf, buflen, v, len, 40, TEXT_CONTROLS_TO_SPACE | TEXT_ELLIPSIS);
}

/* A detection id written as decimal digits, 1..2^53. */
static bool
imp_id_text(const char *v, size_t len, int64_t *out)
{
	int64_t n = 0;

	if (len == 0 || len > 16)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (v[i] < '0' || v[i] > '9')
			return false;
		n = n * 10 + (v[i] - '0');
	}
	if (n < 1 || n > DETECTION_ID_MAX)
		return false;
	*out = n;
	return true;
}

/* updated_at as text: epoch milliseconds (up to 15 digits) or ISO-8601. */
static bool
imp_time_text(const char *v, size_t len, int64_t *out)
{
	char buf[64];
	int64_t n = 0;

	if (len == 0 || len >= sizeof(buf))
		return false;
	memcpy(buf, v, len);
	buf[len] = '\0';
	for (size_t i = 0; i < len; i++)
		if (buf[i] < '0' || buf[i] > '9')
			return timefmt_parse_iso8601(buf, out);
	/* 15 digits already pass the year 9999; more could overflow the sum below. */
	if (len > 15)
		return false;
	for (size_t i = 0; i < len; i++)
		n = n * 10 + (buf[i] - '0');
	*out = n;
	return true;
}

static size_t
imp_text_max(enum imp_col c)
{
	switch (c) {
	case COL_TICKET_ID: return FIELDS_TICKET_ID_MAX;
	case COL_ASSIGNEE: return FIELDS_ASSIGNEE_MAX;
	default: return STATUSMAP_NAME_MAX;
	}
}

static void
imp_add_id(imp_row_t *row, size_t *cap, int64_t id)
{
	xgrow((void **)&row->ids, cap, row->nids + 1, sizeof(int64_t));
	row->ids[row->nids++] = id;
}

static void
imp_keep_row(imp_t *im, imp_row_t *row)
{
	xgrow((void **)&im->rows, &im->caprows, im->nrows + 1, sizeof(imp_row_t));
	im->rows[im->nrows++] = *row;
}

/* A text column of a row: stores the value, or reports the row. */
static bool
imp_set_text(imp_t *im, imp_row_t *row, enum imp_col c, const char *v, size_t len, size_t line)
{
	char why[128], q[64];
	char *val;

	if (!imp_text(v, len, imp_text_max(c), &val, why, sizeof(why))) {
		imp_quote(v, len, q, sizeof(q));
		imp_error(im, line, "%s \"%s\" %s", imp_col_names[c], q, why);
		return false;
	}
	switch (c) {
	case COL_TICKET_ID: row->ticket_id = val; break;
	case COL_STATUS: row->status = val; row->given |= IMPORTER_STATUS; break;
	case COL_ASSIGNEE: row->assignee = val; row->given |= IMPORTER_ASSIGNEE; break;
	case COL_RESOLUTION: row->resolution = val; row->given |= IMPORTER_RESOLUTION; break;
	case COL_STATUS_CATEGORY:
		row->status_category = val;
		row->given |= IMPORTER_STATUS_CATEGORY;
		break;
	default: bson_free(val); break;
	}
	return true;
}

/* ---- CSV ---- */

static void
imp_csv_fields_clear(imp_t *im)
{
	for (size_t i = 0; i < im->nfields; i++)
		bson_free(im->fields[i].data);
	im->nfields = 0;
}

static void
imp_csv_on_field(void *data, size_t len, void *arg)
{
	imp_t *im = arg;

	xgrow((void **)&im->fields, &im->capfields, im->nfields + 1, sizeof(imp_field_t));
	im->fields[im->nfields].data = bson_malloc(len + 1);
	if (len > 0)
		memcpy(im->fields[im->nfields].data, data, len);
	im->fields[im->nfields].data[len] = '\0';
	im->fields[im->nfields].len = len;
	im->nfields++;
}

static void
imp_csv_header(imp_t *im)
{
	size_t line = im->rec_line;
	char q[64];

	im->have_header = true;
	im->ncols = im->nfields;
	for (int c = 0; c < COL_COUNT; c++)
		im->col_of[c] = -1;
	for (size_t i = 0; i < im->nfields; i++) {
		const imp_field_t *f = &im->fields[i];
		int found = -1;

		for (int c = 0; c < COL_COUNT; c++)
			if (strlen(imp_col_names[c]) == f->len &&
			    strncasecmp(f->data, imp_col_names[c], f->len) == 0)
				found = c;
		imp_quote(f->data, f->len, q, sizeof(q));
		if (found < 0) {
			imp_error(im, line, "unknown column \"%s\" in the header (known: "
			    "detection_id, ticket_id, status, assignee, resolution, updated_at, "
			    "status_category); "
			    "nothing imported", q);
			im->out->file_error = true;
			return;
		}
		if (im->col_of[found] >= 0) {
			imp_error(im, line, "column \"%s\" appears twice in the header; nothing "
			    "imported", imp_col_names[found]);
			im->out->file_error = true;
			return;
		}
		im->col_of[found] = (int)i;
	}
	for (int c = COL_DETECTION_ID; c <= COL_TICKET_ID; c++) {
		if (im->col_of[c] < 0) {
			imp_error(im, line, "the header has no \"%s\" column (the first line must "
			    "name the columns, e.g. detection_id,ticket_id,status,assignee,resolution); "
			    "nothing imported", imp_col_names[c]);
			im->out->file_error = true;
			return;
		}
	}
}

static void
imp_csv_row(imp_t *im)
{
	size_t line = im->rec_line;
	imp_row_t row = { .line = line };
	size_t capids = 0;
	char q[64];

	im->out->rows++;
	if (im->nfields != im->ncols) {
		imp_error(im, line, "%zu values, but the header names %zu columns", im->nfields,
		    im->ncols);
		goto bad;
	}
	for (int c = 0; c < COL_COUNT; c++) {
		const imp_field_t *f;

		if (im->col_of[c] < 0)
			continue;
		f = &im->fields[im->col_of[c]];
		if (c == COL_DETECTION_ID) {
			int64_t id;
			if (f->len == 0) {
				imp_error(im, line, "missing detection_id");
				goto bad;
			}
			if (!imp_id_text(f->data, f->len, &id)) {
				imp_quote(f->data, f->len, q, sizeof(q));
				imp_error(im, line, "detection_id \"%s\" is not an integer from 1 to 2^53", q);
				goto bad;
			}
			imp_add_id(&row, &capids, id);
		} else if (c == COL_UPDATED_AT) {
			if (f->len == 0)
				continue;
			if (!imp_time_text(f->data, f->len, &row.updated_at)) {
				imp_quote(f->data, f->len, q, sizeof(q));
				imp_error(im, line, "updated_at \"%s\" is not an ISO-8601 time or epoch "
				    "milliseconds", q);
				goto bad;
			}
			row.given |= IMPORTER_UPDATED_AT;
		} else {
			if (c == COL_TICKET_ID && f->len == 0) {
				imp_error(im, line, "missing ticket_id");
				goto bad;
			}
			if (!imp_set_text(im, &row, (enum imp_col)c, f->data, f->len, line))
				goto bad;
		}
	}
	imp_keep_row(im, &row);
	return;
bad:
	/* A record over several lines that failed is most likely a stray quote. */
	if (im->cur_line > line && im->out->n_errors > 0) {
		importer_issue_t *e = &im->out->errors[im->out->n_errors - 1];
		char *m = bson_strdup_printf("%s (this record runs on to line %zu: is a quote "
		    "unbalanced?)", e->message, im->cur_line);
		bson_free(e->message);
		e->message = m;
	}
	im->out->bad_rows++;
	imp_row_free(&row);
}

static void
imp_csv_on_record(int term, void *arg)
{
	imp_t *im = arg;

	(void)term;
	if (im->out->file_error) {
		imp_csv_fields_clear(im);
		im->in_record = false;
		return;
	}
	if (!im->have_header)
		imp_csv_header(im);
	else
		imp_csv_row(im);
	imp_csv_fields_clear(im);
	im->in_record = false;
}

/* Length of the line starting at data: through '\n', or a '\r' not followed by '\n'
 * (old Mac files), or to the end. */
static size_t
imp_line_len(const char *data, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (data[i] == '\n')
			return i + 1;
		if (data[i] == '\r' && (i + 1 == len || data[i + 1] != '\n'))
			return i + 1;
	}
	return len;
}

static bool
imp_blank(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
			return false;
	return true;
}

/* A row that libcsv refused: report it, skip to the next line with a fresh parser. */
static void
imp_csv_bad_quoting(imp_t *im, const char *why)
{
	size_t line = im->in_record ? im->rec_line : im->cur_line;

	if (!im->have_header) {
		imp_error(im, line, "the header has %s; nothing imported", why);
		im->out->file_error = true;
	} else {
		imp_error(im, line, "the row has %s", why);
		im->out->rows++;
		im->out->bad_rows++;
	}
	imp_csv_fields_clear(im);
	im->in_record = false;
}

/* libcsv grows its value buffer through this, so the out-of-memory policy (xalloc.h)
 * covers it too: csv_parse cannot fail with CSV_ENOMEM. */
static void *
imp_csv_grow(void *p, size_t size)
{
	return xreallocarray(p, size, 1);
}

static void
imp_csv_init(struct csv_parser *p, unsigned char opts)
{
	(void)csv_init(p, opts); /* fails only for a NULL parser; it allocates nothing */
	csv_set_realloc_func(p, imp_csv_grow);
}

static void
imp_csv(imp_t *im, const char *data, size_t len)
{
	struct csv_parser p;
	size_t pos = 0, line = 1, rec_next_pos = 0;
	const unsigned char opts = CSV_STRICT | CSV_STRICT_FINI;

	imp_csv_init(&p, opts);
	for (;;) {
		while (pos < len && !im->out->file_error) {
			size_t n = imp_line_len(data + pos, len - pos);

			if (!im->in_record && !imp_blank(data + pos, n)) {
				im->in_record = true;
				im->rec_line = line;
				rec_next_pos = pos + n;
			}
			im->cur_line = line;
			/* The one error left is CSV_EPARSE: the buffer grows through imp_csv_grow
			 * (no CSV_ENOMEM) and cannot outgrow SIZE_MAX on our input (CSV_ETOOBIG). */
			if (csv_parse(&p, data + pos, n, imp_csv_on_field, imp_csv_on_record, im) != n) {
				imp_csv_bad_quoting(im, "malformed quoting (a quote inside an "
				    "unquoted value, or text after a closing quote)");
				csv_free(&p);
				imp_csv_init(&p, opts);
			}
			pos += n;
			line++;
		}
		if (im->out->file_error)
			break;
		im->cur_line = line - 1;
		if (csv_fini(&p, imp_csv_on_field, imp_csv_on_record, im) == 0)
			break;
		/* A quote opened and never closed swallowed the rest of the input: that row
		 * is bad, and the lines after it are parsed again on their own. */
		imp_csv_bad_quoting(im, "an unterminated quoted value (the quote opened on "
		    "this line is never closed)");
		csv_free(&p);
		if (im->out->file_error)
			return;
		imp_csv_init(&p, opts);
		line = im->rec_line + 1;
		pos = rec_next_pos;
	}
	csv_free(&p);
	if (!im->have_header && !im->out->file_error) {
		imp_error(im, 0, "the input is empty: the first line must be a header naming the "
		    "columns (detection_id,ticket_id,status,assignee,resolution)");
		im->out->file_error = true;
	}
}

/* ---- JSON Lines ---- */

/* A detection id from a JSON value: an integral number or a string of digits. */
static bool
imp_json_id(const bson_iter_t *it, int64_t *out)
{
	char why[128];

	if (BSON_ITER_HOLDS_UTF8(it)) {
		uint32_t len;
		const char *s = bson_iter_utf8(it, &len);
		return imp_id_text(s, len, out);
	}
	return detection_id_from_iter(it, out, why, sizeof(why)) == 0;
}

static void
imp_jsonl_line(imp_t *im, const char *s, size_t len, size_t line)
{
	imp_row_t row = { .line = line };
	size_t capids = 0;
	bson_t doc;
	bson_error_t jerr;
	bson_iter_t it;
	unsigned seen = 0;
	bool has_ids = false;
	size_t i = 0;

	im->out->rows++;
	while (i < len && (s[i] == ' ' || s[i] == '\t'))
		i++;
	if (i == len || s[i] != '{') {
		imp_error(im, line, "not a JSON object (each line must be one {...} object)");
		im->out->bad_rows++;
		return;
	}
	if (!bson_init_from_json(&doc, s, (ssize_t)len, &jerr)) {
		char why[JSONERR_MAX];

		jsonerr_explain(s, len, jerr.message, why, sizeof(why));
		imp_error(im, line, "invalid JSON: %s", why);
		im->out->bad_rows++;
		return;
	}
	if (!bson_iter_init(&it, &doc))
		goto bad;
	while (bson_iter_next(&it)) {
		const char *key = bson_iter_key(&it);
		int c = -1;
		bool is_ids = strcmp(key, "detection_ids") == 0;

		for (int k = 0; k < COL_COUNT; k++)
			if (strcmp(key, imp_col_names[k]) == 0)
				c = k;
		if (c < 0 && !is_ids) {
			char q[64];
			imp_quote(key, strlen(key), q, sizeof(q));
			imp_error(im, line, "unknown field \"%s\" (known: detection_id, detection_ids, "
			    "ticket_id, status, assignee, resolution, updated_at, status_category)", q);
			goto bad;
		}
		if (is_ids) {
			bson_iter_t arr;
			if (has_ids) {
				imp_error(im, line, "field \"detection_ids\" appears twice");
				goto bad;
			}
			has_ids = true;
			if (!BSON_ITER_HOLDS_ARRAY(&it) || !bson_iter_recurse(&it, &arr)) {
				imp_error(im, line, "detection_ids must be an array, got %s",
				    detection_type_name(bson_iter_type(&it)));
				goto bad;
			}
			while (bson_iter_next(&arr)) {
				int64_t id;
				if (!imp_json_id(&arr, &id)) {
					imp_error(im, line, "detection_ids[%s] must be an integer from 1 to "
					    "2^53, got %s", bson_iter_key(&arr),
					    detection_type_name(bson_iter_type(&arr)));
					goto bad;
				}
				imp_add_id(&row, &capids, id);
			}
			continue;
		}
		if (seen & (1u << c)) {
			imp_error(im, line, "field \"%s\" appears twice", key);
			goto bad;
		}
		seen |= 1u << c;
		if (c == COL_DETECTION_ID) {
			int64_t id;
			if (BSON_ITER_HOLDS_NULL(&it)) {
				imp_error(im, line, "missing detection_id (it is null)");
				goto bad;
			}
			if (!imp_json_id(&it, &id)) {
				imp_error(im, line, "detection_id must be an integer from 1 to 2^53, got %s",
				    detection_type_name(bson_iter_type(&it)));
				goto bad;
			}
			imp_add_id(&row, &capids, id);
		} else if (c == COL_UPDATED_AT) {
			if (BSON_ITER_HOLDS_NULL(&it))
				continue;
			if (BSON_ITER_HOLDS_DATE_TIME(&it) && bson_iter_date_time(&it) >= 0) {
				row.updated_at = bson_iter_date_time(&it);
			} else if (BSON_ITER_HOLDS_UTF8(&it)) {
				uint32_t l;
				const char *v = bson_iter_utf8(&it, &l);
				if (!imp_time_text(v, l, &row.updated_at)) {
					char q[64];
					imp_quote(v, l, q, sizeof(q));
					imp_error(im, line, "updated_at \"%s\" is not an ISO-8601 time or epoch "
					    "milliseconds", q);
					goto bad;
				}
			} else {
				char why[128];
				if (detection_time_from_iter(&it, &row.updated_at, why, sizeof(why)) != 0) {
					imp_error(im, line, "updated_at %s", why);
					goto bad;
				}
			}
			row.given |= IMPORTER_UPDATED_AT;
		} else {
			uint32_t l = 0;
			const char *v = "";
			if (BSON_ITER_HOLDS_UTF8(&it)) {
				v = bson_iter_utf8(&it, &l);
			} else if (!BSON_ITER_HOLDS_NULL(&it) || c == COL_TICKET_ID) {
				if (c == COL_TICKET_ID && BSON_ITER_HOLDS_NULL(&it))
					imp_error(im, line, "missing ticket_id (it is null)");
				else
					imp_error(im, line, "%s must be a string%s, got %s", key,
					    c == COL_TICKET_ID ? "" : " or null",
					    detection_type_name(bson_iter_type(&it)));
				goto bad;
			}
			if (c == COL_TICKET_ID && l == 0) {
				imp_error(im, line, "missing ticket_id (it is empty)");
				goto bad;
			}
			if (!imp_set_text(im, &row, (enum imp_col)c, v, l, line))
				goto bad;
		}
	}
	if (row.ticket_id == NULL) {
		imp_error(im, line, "missing ticket_id");
		goto bad;
	}
	if (row.nids == 0) {
		imp_error(im, line, "missing detection_id (or a non-empty detection_ids)");
		goto bad;
	}
	bson_destroy(&doc);
	imp_keep_row(im, &row);
	return;
bad:
	bson_destroy(&doc);
	im->out->bad_rows++;
	imp_row_free(&row);
}

static void
imp_jsonl(imp_t *im, const char *data, size_t len)
{
	size_t pos = 0, line = 1;

	while (pos < len) {
		size_t n = imp_line_len(data + pos, len - pos);
		size_t l = n;

		while (l > 0 && (data[pos + l - 1] == '\n' || data[pos + l - 1] == '\r'))
			l--;
		if (!imp_blank(data + pos, l))
			imp_jsonl_line(im, data + pos, l, line);
		pos += n;
		line++;
	}
}

/* ---- merging rows into tickets ---- */

static int
imp_cmp_row(const void *a, const void *b)
{
	const imp_row_t *x = a, *y = b;
	int c = strcmp(x->ticket_id, y->ticket_id);

	if (c != 0)
		return c;
	return (x->line > y->line) - (x->line < y->line);
}

static int
imp_cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

static int
imp_cmp_ticket(const void *a, const void *b)
{
	const importer_ticket_t *x = a, *y = b;

	return (x->line > y->line) - (x->line < y->line);
}

static int
imp_cmp_issue(const void *a, const void *b)
{
	const importer_issue_t *x = a, *y = b;

	return (x->line > y->line) - (x->line < y->line);
}

static bool
imp_str_eq(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* Take a later row's value of one field, warning when it replaces a different one. */
static void
imp_merge_text(imp_t *im, importer_ticket_t *t, char **dst, size_t *dst_line, char **src,
    size_t line, const char *name)
{
	if (*dst_line != 0 && !imp_str_eq(*dst, *src))
		imp_warn(im, line, "ticket %s: %s \"%s\" replaces \"%s\" from line %zu (the later "
		    "row wins)", t->id, name, *src ? *src : "null", *dst ? *dst : "null", *dst_line);
	bson_free(*dst);
	*dst = *src;
	*src = NULL;
	*dst_line = line;
}

static void
imp_merge(imp_t *im)
{
	importer_result_t *out = im->out;
	size_t i = 0;

	if (im->nrows == 0)
		return;
	/* Stable by construction: ties are broken by line. */
	qsort(im->rows, im->nrows, sizeof(imp_row_t), imp_cmp_row);
	out->tickets = xcalloc(im->nrows, sizeof(importer_ticket_t));
	while (i < im->nrows) {
		size_t j = i, nids = 0, k = 0;
		importer_ticket_t *t = &out->tickets[out->n_tickets];
		size_t st_line = 0, as_line = 0, re_line = 0, up_line = 0, sc_line = 0;

		while (j < im->nrows && strcmp(im->rows[j].ticket_id, im->rows[i].ticket_id) == 0)
			nids += im->rows[j++].nids;
		t->id = im->rows[i].ticket_id;
		im->rows[i].ticket_id = NULL;
		t->line = im->rows[i].line;
		t->rows = j - i;
		t->detection_ids = xmalloc(nids * sizeof(int64_t));
		for (size_t r = i; r < j; r++) {
			imp_row_t *row = &im->rows[r];
			memcpy(t->detection_ids + k, row->ids, row->nids * sizeof(int64_t));
			k += row->nids;
			if (row->given & IMPORTER_STATUS)
				imp_merge_text(im, t, &t->status, &st_line, &row->status, row->line,
				    "status");
			if (row->given & IMPORTER_ASSIGNEE)
				imp_merge_text(im, t, &t->assignee, &as_line, &row->assignee, row->line,
				    "assignee");
			if (row->given & IMPORTER_RESOLUTION)
				imp_merge_text(im, t, &t->resolution, &re_line, &row->resolution,
				    row->line, "resolution");
			if (row->given & IMPORTER_STATUS_CATEGORY)
				imp_merge_text(im, t, &t->status_category, &sc_line, &row->status_category,
				    row->line, "status_category");
			if (row->given & IMPORTER_UPDATED_AT) {
				if (up_line != 0 && t->updated_at_ms != row->updated_at)
					imp_warn(im, row->line, "ticket %s: updated_at replaces the one from "
					    "line %zu (the later row wins)", t->id, up_line);
				t->updated_at_ms = row->updated_at;
				up_line = row->line;
			}
			t->given |= row->given;
		}
		qsort(t->detection_ids, k, sizeof(int64_t), imp_cmp_i64);
		nids = 0;
		for (size_t r = 0; r < k; r++)
			if (nids == 0 || t->detection_ids[nids - 1] != t->detection_ids[r])
				t->detection_ids[nids++] = t->detection_ids[r];
		t->n_detection_ids = nids;
		if (nids > IMPORTER_MAX_IDS_PER_TICKET) {
			imp_error(im, t->line, "ticket %s lists %zu detections in %zu rows; at most %d "
			    "are allowed per ticket: none of its rows imported", t->id, nids, t->rows,
			    IMPORTER_MAX_IDS_PER_TICKET);
			out->bad_rows += t->rows;
			bson_free(t->id);
			free(t->detection_ids);
			bson_free(t->status);
			bson_free(t->assignee);
			bson_free(t->resolution);
			bson_free(t->status_category);
			memset(t, 0, sizeof(*t));
		} else {
			out->n_tickets++;
		}
		i = j;
	}
	qsort(out->tickets, out->n_tickets, sizeof(importer_ticket_t), imp_cmp_ticket);
}

/* ---- public ---- */

static bool
imp_ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);

	return a >= b && strcasecmp(s + a - b, suffix) == 0;
}

enum importer_format
importer_detect(const char *name, const char *data, size_t len)
{
	size_t i = 0;

	if (name != NULL && (imp_ends_with(name, ".jsonl") || imp_ends_with(name, ".ndjson")))
		return IMPORTER_JSONL;
	if (name != NULL && imp_ends_with(name, ".csv"))
		return IMPORTER_CSV;
	if (len >= 3 && memcmp(data, "\xef\xbb\xbf", 3) == 0)
		i = 3;
	while (i < len && (data[i] == ' ' || data[i] == '\t' || data[i] == '\r' || data[i] == '\n'))
		i++;
	return i < len && data[i] == '{' ? IMPORTER_JSONL : IMPORTER_CSV;
}

const char *
importer_format_name(enum importer_format f)
{
	switch (f) {
	case IMPORTER_CSV: return "csv";
	case IMPORTER_JSONL: return "jsonl";
	default: return "auto";
	}
}

int
importer_format_parse(const char *s, enum importer_format *out)
{
	if (s == NULL)
		return -1;
	if (strcasecmp(s, "csv") == 0)
		*out = IMPORTER_CSV;
	else if (strcasecmp(s, "jsonl") == 0 || strcasecmp(s, "ndjson") == 0)
		*out = IMPORTER_JSONL;
	else
		return -1;
	return 0;
}

void
importer_parse(const char *data, size_t len, enum importer_format format, const char *name,
    importer_result_t *out)
{
	imp_t im = { .out = out };

	memset(out, 0, sizeof(*out));
	if (data == NULL)
		len = 0;
	if (format == IMPORTER_AUTO)
		format = importer_detect(name, data, len);
	out->format = format;
	/* The byte order mark some spreadsheets write is not part of the first value. */
	if (len >= 3 && memcmp(data, "\xef\xbb\xbf", 3) == 0) {
		data += 3;
		len -= 3;
	}
	if (format == IMPORTER_JSONL)
		imp_jsonl(&im, data, len);
	else
		imp_csv(&im, data, len);
	imp_csv_fields_clear(&im);
	free(im.fields);
	if (!out->file_error)
		imp_merge(&im);
	for (size_t i = 0; i < im.nrows; i++)
		imp_row_free(&im.rows[i]);
	free(im.rows);
	if (im.nwarns_dropped > 0) {
		xgrow((void **)&out->warnings, &im.capwarns, out->n_warnings + 1,
		    sizeof(importer_issue_t));
		out->warnings[out->n_warnings].line = 0;
		out->warnings[out->n_warnings++].message = bson_strdup_printf("%zu more warnings "
		    "not shown", im.nwarns_dropped);
	}
	/* Errors come from two passes (rows, then merging): one order for the reader. */
	if (out->n_errors > 1)
		qsort(out->errors, out->n_errors, sizeof(importer_issue_t), imp_cmp_issue);
}

void
importer_result_free(importer_result_t *r)
{
	if (r == NULL)
		return;
	for (size_t i = 0; i < r->n_tickets; i++) {
		importer_ticket_t *t = &r->tickets[i];
		bson_free(t->id);
		free(t->detection_ids);
		bson_free(t->status);
		bson_free(t->assignee);
		bson_free(t->resolution);
		bson_free(t->status_category);
	}
	free(r->tickets);
	for (size_t i = 0; i < r->n_errors; i++)
		bson_free(r->errors[i].message);
	free(r->errors);
	for (size_t i = 0; i < r->n_warnings; i++)
		bson_free(r->warnings[i].message);
	free(r->warnings);
	memset(r, 0, sizeof(*r));
}
