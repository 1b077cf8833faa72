/*
 * ticketsyncctl: argument parsing and wiring only. Every command loads the same
 * configuration as the daemon (-c FILE plus TICKETSYNC_<SECTION>_<KEY>), runs on this
 * thread with one pooled MongoDB client, and leaves the work to the library's modules
 * (schema, importer + tickets, refresh + pushrun, overview, audit, outbox, report).
 *
 * Exit status: 0 success, 1 failure (including bad input rows), 2 usage or
 * configuration error.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <event2/event.h>
#include <event2/thread.h>

#include "ticketsync/audit.h"
#include "ticketsync/clock.h"
#include "ticketsync/config.h"
#include "ticketsync/detection.h"
#include "ticketsync/importer.h"
#include "ticketsync/orphan.h"
#include "ticketsync/log.h"
#include "ticketsync/outbox.h"
#include "ticketsync/outbox_view.h"
#include "ticketsync/overview.h"
#include "ticketsync/pushrun.h"
#include "ticketsync/refresh.h"
#include "ticketsync/schema.h"
#include "ticketsync/store.h"
#include "ticketsync/sweeper.h"
#include "ticketsync/text.h"
#include "ticketsync/ticket_import.h"
#include "ticketsync/ticketspec.h"
#include "ticketsync/timefmt.h"
#include "ticketsync/xalloc.h"

#include "report.h"

#define EXIT_OK 0
#define EXIT_FAIL 1
#define EXIT_USAGE 2

/* Larger inputs are refused rather than read into memory. */
#define CTL_IMPORT_MAX ((size_t)1 << 30)
#define CTL_AUDIT_DEFAULT_LIMIT 50
#define CTL_PARKED_DEFAULT 10

extern char **environ;

/* What every command gets: the configuration and one client. */
typedef struct ctl {
	config_t *cfg;
	store_t *store;
	mongoc_client_t *client;
	const char *db;
	char instance[256];
} ctl_t;

typedef struct ctl_cmd {
	const char *name;
	const char *title;    /* one line for the command list */
	const char *about;    /* what it does, for its --help */
	const char *synopsis;
	const char *options;  /* its own option lines (-c/-h are added) */
	int (*run)(int argc, char **argv, const struct ctl_cmd *cmd);
} ctl_cmd_t;

static const ctl_cmd_t *ctl_find(const char *name);

static const char ctl_common_opts[] =
    "  -c, --config FILE  the daemon's INI configuration (every key can also be set\n"
    "                     through TICKETSYNC_<SECTION>_<KEY>)\n"
    "  -h, --help         this help\n";

static void
usage(FILE *out)
{
	static const char *const names[] = { "init", "import-tickets", "backfill", "create-tickets", "status",
		"audit", "replay-parked", NULL };

	fprintf(out,
	    "usage: ticketsyncctl [-c FILE] COMMAND [OPTIONS]\n"
	    "       ticketsyncctl help COMMAND | --help | --version\n"
	    "\n"
	    "Tools for ticketsync, the service that pushes ticket fields from MongoDB to\n"
	    "ExtraHop detections. Every command reads the daemon's configuration.\n"
	    "\n"
	    "Commands:\n");
	for (size_t i = 0; names[i] != NULL; i++) {
		const ctl_cmd_t *c = ctl_find(names[i]);
		fprintf(out, "  %-15s %s\n", c->name, c->title);
	}
	fprintf(out,
	    "\n"
	    "Options:\n%s"
	    "  --version          print the version\n"
	    "\n"
	    "Exit status: 0 on success, 1 on failure (including bad input rows), 2 on a\n"
	    "usage or configuration error.\n", ctl_common_opts);
}

static void
cmd_usage(FILE *out, const ctl_cmd_t *cmd)
{
	fprintf(out, "usage: ticketsyncctl %s\n\n%s\n\nOptions:\n%s%s", cmd->synopsis, cmd->about,
	    cmd->options, ctl_common_opts);
}

/* A usage error: one line saying what is wrong, then how to get help. */
static int usage_error(const ctl_cmd_t *cmd, const char *fmt, ...) BSON_GNUC_PRINTF(2, 3);

static int
usage_error(const ctl_cmd_t *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "ticketsyncctl%s%s: ", cmd ? " " : "", cmd ? cmd->name : "");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'ticketsyncctl %s%s--help'.\n", cmd ? cmd->name : "", cmd ? " " : "");
	return EXIT_USAGE;
}

static int ctl_fail(const ctl_cmd_t *cmd, const char *fmt, ...) BSON_GNUC_PRINTF(2, 3);

static int
ctl_fail(const ctl_cmd_t *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "ticketsyncctl %s: ", cmd->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return EXIT_FAIL;
}

/* ---- shared set-up ---- */

static void
ctl_close(ctl_t *c)
{
	if (c->client != NULL)
		store_push(c->store, c->client);
	store_destroy(c->store);
	config_destroy(c->cfg);
	memset(c, 0, sizeof(*c));
}

/* The configuration (and, for commands that push, ExtraHop's part of it), then a
 * client. Returns EXIT_OK or the exit status to return. */
static int
ctl_open(ctl_t *c, const ctl_cmd_t *cmd, const char *path, bool need_extrahop)
{
	bson_error_t err;

	memset(c, 0, sizeof(*c));
	if (config_load(&c->cfg, path, environ, &err) != 0 ||
	    (need_extrahop && config_require_extrahop(c->cfg, &err) != 0)) {
		fprintf(stderr, "ticketsyncctl %s: configuration error: %s\n", cmd->name, err.message);
		ctl_close(c);
		return EXIT_USAGE;
	}
	log_set_level(c->cfg->log.level);
	for (size_t i = 0; i < c->cfg->nwarnings; i++)
		log_warnx("config: %s", c->cfg->warnings[i]);
	c->db = c->cfg->mongodb.database;
	c->store = store_new_interactive(c->cfg->mongodb.uri, c->db, &err);
	if (c->store == NULL) {
		fprintf(stderr, "ticketsyncctl %s: configuration error: mongodb: %s\n", cmd->name,
		    err.message);
		ctl_close(c);
		return EXIT_USAGE;
	}
	c->client = store_pop(c->store);
	{
		char host[200] = "localhost";
		gethostname(host, sizeof(host) - 1);
		if (c->cfg->service.instance_id != NULL && c->cfg->service.instance_id[0] != '\0')
			snprintf(c->instance, sizeof(c->instance), "ticketsyncctl:%s",
			    c->cfg->service.instance_id);
		else
			snprintf(c->instance, sizeof(c->instance), "ticketsyncctl:%s:%ld", host,
			    (long)getpid());
	}
	return EXIT_OK;
}


/* getopt_long quietly (shortopts start with ':'): bad options are reported by
 * bad_option in the command's name, not getopt's. */
static int
ctl_getopt(int argc, char **argv, const char *shortopts, const struct option *longopts)
{
	opterr = 0;
	return getopt_long(argc, argv, shortopts, longopts, NULL);
}

static int
bad_option(const ctl_cmd_t *cmd, int ch, char **argv)
{
	const char *arg = argv[optind - 1];

	if (ch == ':')
		return usage_error(cmd, "option %s needs a value", arg);
	if (optopt != 0 && arg[0] == '-' && arg[1] != '-')
		return usage_error(cmd, "unknown option -%c", optopt);
	return usage_error(cmd, "unknown option %s", arg);
}

static bool
parse_detection_ids(const char *arg, int64_t **ids, size_t *n, size_t *cap)
{
	const char *p = arg;

	/* "--detection 1,2,3" as well as repeated --detection. */
	while (*p != '\0') {
		char *end;
		long long v;

		errno = 0;
		if (*p < '0' || *p > '9')
			return false;
		v = strtoll(p, &end, 10);
		if (errno != 0 || v < 1 || v > DETECTION_ID_MAX || (*end != ',' && *end != '\0'))
			return false;
		if (*n == *cap) {
			size_t c = *cap ? *cap * 2 : 8;
			*ids = xreallocarray(*ids, c, sizeof(int64_t));
			*cap = c;
		}
		(*ids)[(*n)++] = v;
		p = *end == ',' ? end + 1 : end;
	}
	return *n > 0;
}

static bool
parse_count(const char *arg, size_t *out)
{
	char *end;
	unsigned long long v;

	if (arg[0] < '0' || arg[0] > '9')
		return false;
	errno = 0;
	v = strtoull(arg, &end, 10);
	if (errno != 0 || *end != '\0' || v > 1000000000ULL)
		return false;
	*out = (size_t)v;
	return true;
}

/* ---- init ---- */

static int
cmd_init(int argc, char **argv, const ctl_cmd_t *cmd)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = NULL;
	bool dry_run = false;
	schema_deployment_t info;
	schema_plan_t plan;
	bson_error_t err;
	ctl_t c;
	int ch, rc;

	while ((ch = ctl_getopt(argc, argv, ":c:nh", longopts)) != -1) {
		switch (ch) {
		case 'c': path = optarg; break;
		case 'n': dry_run = true; break;
		case 'h': cmd_usage(stdout, cmd); return EXIT_OK;
		default: return bad_option(cmd, ch, argv);
		}
	}
	if (optind < argc)
		return usage_error(cmd, "unexpected argument \"%s\"", argv[optind]);
	if ((rc = ctl_open(&c, cmd, path, false)) != EXIT_OK)
		return rc;
	if (!schema_check_deployment(c.client, &info, &err)) {
		rc = ctl_fail(cmd, "%s", err.message);
		goto cleanup;
	}
	printf("MongoDB %s, %s%s%s: change streams available\n", info.version,
	    info.sharded ? "sharded cluster" : "replica set",
	    info.set_name[0] ? " " : "", info.set_name);
	schema_plan_init(&plan);
	rc = schema_ensure(c.client, c.db, NULL, dry_run, &plan, &err) ? EXIT_OK : EXIT_FAIL;
	for (size_t i = 0; i < plan.n; i++)
		printf("%s%s\n", dry_run ? "would " : "", plan.lines[i]);
	if (rc != EXIT_OK)
		ctl_fail(cmd, "%s", err.message);
	else if (plan.n == 0)
		printf("nothing to change: database %s matches schema/ (%zu collections)\n", c.db,
		    schema_embedded_count);
	else if (dry_run)
		printf("dry run: nothing was changed\n");
	schema_plan_destroy(&plan);
cleanup:
	ctl_close(&c);
	return rc;
}

/* ---- import-tickets ---- */

static char *
read_input(const char *path, size_t *len, char *why, size_t whylen)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	char *buf = NULL;
	size_t n = 0, cap = 0;

	if (f == NULL) {
		snprintf(why, whylen, "%s", strerror(errno));
		return NULL;
	}
	for (;;) {
		size_t got;
		if (cap - n < 65536) {
			cap = cap ? cap * 2 : 1 << 20;
			if (cap > CTL_IMPORT_MAX + 65536) {
				snprintf(why, whylen, "larger than %zu MiB; split it", CTL_IMPORT_MAX >> 20);
				goto fail;
			}
			buf = xreallocarray(buf, cap, 1);
		}
		got = fread(buf + n, 1, cap - n, f);
		n += got;
		if (got == 0)
			break;
	}
	if (ferror(f)) {
		snprintf(why, whylen, "%s", strerror(errno));
		goto fail;
	}
	if (f != stdin)
		fclose(f);
	*len = n;
	return buf;
fail:
	if (f != stdin)
		fclose(f);
	free(buf);
	return NULL;
}

typedef struct import_ctx {
	const char *name;
	size_t refused_rows;
	const importer_ticket_t *tickets; /* the write's array: refused[] is indexed by it */
	size_t n_tickets;
	bool *refused;
} import_ctx_t;

static void
import_where(const char *name, size_t line, char *buf, size_t buflen)
{
	if (line > 0)
		snprintf(buf, buflen, "%s:%zu", name, line);
	else
		snprintf(buf, buflen, "%s", name);
}

/* Imported tickets naming detections not in MongoDB: stored all the same (pushed once
 * the detection arrives), but said: one warning with the count and the first few, and
 * an audit record for each (orphan_note: not again for the same ids on a re-import). */
typedef struct import_orphans {
	const orphan_ticket_t *tickets;
	size_t n;
	char shown[512];
} import_orphans_t;

static void
import_on_orphan(void *arg, size_t index, const int64_t *missing, size_t n)
{
	import_orphans_t *o = arg;
	char one[200], list[128];

	if (o->n++ >= 5)
		return;
	orphan_format_ids(missing, n, 3, list, sizeof(list));
	snprintf(one, sizeof(one), "%s%s (%s)", o->n > 1 ? ", " : "", o->tickets[index].id, list);
	strncat(o->shown, one, sizeof(o->shown) - strlen(o->shown) - 1);
}

static void
import_note_orphans(ctl_t *c, const ctl_cmd_t *cmd, const importer_result_t *res,
    const bool *refused)
{
	orphan_ticket_t *ot = xcalloc(res->n_tickets > 0 ? res->n_tickets : 1, sizeof(*ot));
	import_orphans_t o = { .tickets = ot };
	size_t n = 0;
	bson_error_t err;

	/* Only what MongoDB stored: a refused ticket is not waiting for anything. */
	for (size_t i = 0; i < res->n_tickets; i++)
		if (!refused[i])
			ot[n++] = (orphan_ticket_t){ res->tickets[i].id, res->tickets[i].detection_ids,
				res->tickets[i].n_detection_ids };
	if (!orphan_note(c->client, c->db, c->instance, TICKET_IMPORT_SOURCE, ot, n,
	        import_on_orphan, &o, NULL, &err))
		fprintf(stderr, "ticketsyncctl %s: cannot check which detections exist: %s\n",
		    cmd->name, err.message);
	if (o.n > 0)
		fprintf(stderr, "warning: %zu ticket(s) name detections not in MongoDB: %s%s. They "
		    "are stored and pushed once their detections arrive; `ticketsyncctl status` "
		    "lists them, `ticketsyncctl audit --event unknown_detection` names each.\n",
		    o.n, o.shown, o.n > 5 ? ", ..." : "");
	free(ot);
}

static void
import_on_refused(void *arg, const importer_ticket_t *t, int code, const char *message)
{
	import_ctx_t *ic = arg;
	char where[4200], msg[512];

	import_where(ic->name, t->line, where, sizeof(where));
	text_sanitize(msg, sizeof(msg), message, TEXT_STRLEN, 300, REPORT_TEXT_FLAGS);
	fprintf(stderr, "%s: ticket %s refused by MongoDB (code %d): %s\n", where, t->id, code, msg);
	ic->refused_rows += t->rows;
	if (ic->refused != NULL && t >= ic->tickets && t < ic->tickets + ic->n_tickets)
		ic->refused[t - ic->tickets] = true;
}

static int
cmd_import(int argc, char **argv, const ctl_cmd_t *cmd)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "format", required_argument, NULL, 'f' },
		{ "strict", no_argument, NULL, 's' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = NULL, *file;
	enum importer_format format = IMPORTER_AUTO;
	bool strict = false, dry_run = false;
	importer_result_t res;
	import_ctx_t ic = { 0 };
	ticket_import_stats_t ts = { 0 };
	bson_error_t err;
	char why[256], where[4200];
	char *data;
	size_t len = 0;
	ctl_t c;
	int ch, rc;

	while ((ch = ctl_getopt(argc, argv, ":c:f:snh", longopts)) != -1) {
		switch (ch) {
		case 'c': path = optarg; break;
		case 'f':
			if (importer_format_parse(optarg, &format) != 0)
				return usage_error(cmd, "--format must be csv or jsonl, not \"%s\"", optarg);
			break;
		case 's': strict = true; break;
		case 'n': dry_run = true; break;
		case 'h': cmd_usage(stdout, cmd); return EXIT_OK;
		default: return bad_option(cmd, ch, argv);
		}
	}
	if (optind >= argc)
		return usage_error(cmd, "which file? (FILE, or - for standard input)");
	if (optind + 1 < argc)
		return usage_error(cmd, "one file at a time (unexpected \"%s\")", argv[optind + 1]);
	file = argv[optind];
	/* The configuration first: a config error must not cost a read of stdin. */
	if ((rc = ctl_open(&c, cmd, path, false)) != EXIT_OK)
		return rc;
	ic.name = strcmp(file, "-") == 0 ? "<stdin>" : file;
	data = read_input(file, &len, why, sizeof(why));
	if (data == NULL) {
		rc = ctl_fail(cmd, "cannot read %s: %s", ic.name, why);
		goto cleanup;
	}
	importer_parse(data, len, format, file, &res);
	free(data);
	for (size_t i = 0; i < res.n_warnings; i++) {
		import_where(ic.name, res.warnings[i].line, where, sizeof(where));
		fprintf(stderr, "%s: warning: %s\n", where, res.warnings[i].message);
	}
	for (size_t i = 0; i < res.n_errors; i++) {
		import_where(ic.name, res.errors[i].line, where, sizeof(where));
		fprintf(stderr, "%s: %s\n", where, res.errors[i].message);
	}
	rc = res.n_errors > 0 ? EXIT_FAIL : EXIT_OK;
	if (res.file_error) {
		fprintf(stderr, "ticketsyncctl %s: nothing imported\n", cmd->name);
	} else if (strict && res.n_errors > 0) {
		fprintf(stderr, "ticketsyncctl %s: %zu bad row(s); nothing written (--strict)\n",
		    cmd->name, res.bad_rows);
	} else if (dry_run) {
		printf("dry run: rows read %zu (%s), tickets to upsert %zu, bad rows %zu; nothing "
		    "written\n", res.rows, importer_format_name(res.format), res.n_tickets,
		    res.bad_rows);
	} else {
		bool ok;

		ic.tickets = res.tickets;
		ic.n_tickets = res.n_tickets;
		ic.refused = xcalloc(res.n_tickets > 0 ? res.n_tickets : 1, sizeof(bool));
		ok = ticket_import_write(c.client, c.db, res.tickets, res.n_tickets, clock_wall_ms(),
		    TICKET_IMPORT_SOURCE, import_on_refused, &ic, &ts, &err);
		/* Written means written: unchanged tickets are counted apart. */
		printf("rows read %zu (%s), tickets written %zu (new %zu, changed %zu), unchanged "
		    "%zu, bad rows %zu\n", res.rows, importer_format_name(res.format),
		    ts.inserted + ts.modified, ts.inserted, ts.modified, ts.unchanged,
		    res.bad_rows + ic.refused_rows);
		if (!ok)
			rc = ctl_fail(cmd, "writing tickets failed after %zu of %zu: %s", ts.written,
			    res.n_tickets, err.message);
		else if (ts.refused > 0)
			rc = EXIT_FAIL;
		if (ok)
			import_note_orphans(&c, cmd, &res, ic.refused);
		free(ic.refused);
	}
	importer_result_free(&res);
cleanup:
	ctl_close(&c);
	return rc;
}

/* ---- backfill ---- */

typedef struct backfill_progress {
	bool tty;
	uint64_t total, shown;
	int64_t start_ms, last_ms;
	unsigned last_decile;
	bool any;
} backfill_progress_t;

static void
backfill_show(backfill_progress_t *bp, uint64_t done, bool final)
{
	char line[256];
	int64_t now = clock_mono_ms();

	if (bp->tty) {
		if (!final && now - bp->last_ms < 100)
			return;
		report_progress_text(line, sizeof(line), done, bp->total, now - bp->start_ms, true,
		    "detections");
		/* Redraw in place; \033[K clears what a longer previous line left. */
		fprintf(stderr, "\r%s\033[K%s", line, final ? "\n" : "");
	} else {
		unsigned decile = bp->total ? (unsigned)(done * 10 / bp->total) : 0;
		if (!final && decile <= bp->last_decile && now - bp->last_ms < 10000)
			return;
		/* The last step's line already says where it ended. */
		if (final && bp->any && done == bp->shown)
			return;
		bp->last_decile = decile;
		report_progress_text(line, sizeof(line), done, bp->total, now - bp->start_ms, false,
		    "detections");
		fprintf(stderr, "%s\n", line);
	}
	fflush(stderr);
	bp->last_ms = now;
	bp->shown = done;
	bp->any = true;
}

static bool
backfill_on_progress(void *arg, const refresh_stats_t *stats, int64_t last_id)
{
	(void)last_id;
	backfill_show(arg, stats->scanned + stats->missing, false);
	return true;
}

static void
backfill_on_push_progress(void *arg, const pushrun_stats_t *s)
{
	(void)arg;
	fprintf(stderr, "pushing: %llu pushed, %llu retried, %llu parked so far\n",
	    (unsigned long long)s->pushed, (unsigned long long)s->retried,
	    (unsigned long long)s->parked);
}

static int64_t
backfill_total(ctl_t *c, int64_t since_ms)
{
	mongoc_collection_t *coll = mongoc_client_get_collection(c->client, c->db,
	    STORE_COLL_DETECTIONS);
	bson_t filter = BSON_INITIALIZER, cond;
	bson_error_t err;
	int64_t n;

	if (since_ms > 0) {
		BSON_APPEND_DOCUMENT_BEGIN(&filter, "update_time", &cond);
		BSON_APPEND_INT64(&cond, "$gte", since_ms);
		bson_append_document_end(&filter, &cond);
	}
	n = mongoc_collection_count_documents(coll, &filter, NULL, NULL, NULL, &err);
	bson_destroy(&filter);
	mongoc_collection_destroy(coll);
	return n;
}

static int
cmd_backfill(int argc, char **argv, const ctl_cmd_t *cmd)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "since", required_argument, NULL, 's' },
		{ "detection", required_argument, NULL, 'd' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "push", no_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = NULL, *since_arg = NULL;
	int64_t *ids = NULL, since_ms = 0;
	size_t nids = 0, capids = 0;
	bool dry_run = false, push = false, ok;
	refresh_stats_t stats = { 0 };
	backfill_progress_t bp = { 0 };
	bson_error_t err;
	char why[256], line[2048];
	ctl_t c;
	int ch, rc;

	while ((ch = ctl_getopt(argc, argv, ":c:s:d:nph", longopts)) != -1) {
		switch (ch) {
		case 'c': path = optarg; break;
		case 's': since_arg = optarg; break;
		case 'd':
			if (!parse_detection_ids(optarg, &ids, &nids, &capids)) {
				free(ids);
				return usage_error(cmd, "--detection takes ids from 1 to 2^53 (\"%s\")",
				    optarg);
			}
			break;
		case 'n': dry_run = true; break;
		case 'p': push = true; break;
		case 'h': free(ids); cmd_usage(stdout, cmd); return EXIT_OK;
		default: free(ids); return bad_option(cmd, ch, argv);
		}
	}
	rc = EXIT_USAGE;
	if (optind < argc)
		usage_error(cmd, "unexpected argument \"%s\"", argv[optind]);
	else if (dry_run && push)
		usage_error(cmd, "--dry-run and --push exclude each other");
	else if (since_arg != NULL && nids > 0)
		usage_error(cmd, "--since and --detection exclude each other");
	else if (since_arg != NULL &&
	    !timefmt_parse_since(since_arg, clock_wall_ms(), &since_ms, why, sizeof(why)))
		usage_error(cmd, "--since: %s", why);
	else
		rc = EXIT_OK;
	if (rc != EXIT_OK) {
		free(ids);
		return rc;
	}
	if ((rc = ctl_open(&c, cmd, path, push)) != EXIT_OK) {
		free(ids);
		return rc;
	}
	{
		refresh_ctx_t rctx = {
			.database = c.db,
			.map = c.cfg->statusmap.map,
			.instance = c.instance,
			.dry_run = dry_run,
			.summary_only = true,
		};
		bp.tty = isatty(STDERR_FILENO) == 1;
		bp.start_ms = bp.last_ms = clock_mono_ms();
		if (nids > 0) {
			ok = refresh_ids(c.client, &rctx, ids, nids, NULL, 0, &stats, &err);
		} else {
			int64_t total = backfill_total(&c, since_ms);
			bp.total = total > 0 ? (uint64_t)total : 0;
			if (since_ms > 0) {
				char t[TIMEFMT_ISO_MAX];
				timefmt_format_iso8601(since_ms, false, t, sizeof(t));
				fprintf(stderr, "backfill: detections updated since %s\n", t);
			}
			ok = refresh_all(c.client, &rctx, since_ms, (size_t)c.cfg->watch.rescan_batch,
			    backfill_on_progress, &bp, &stats, &err);
			backfill_show(&bp, stats.scanned + stats.missing, true);
		}
	}
	free(ids);
	report_refresh_summary(&stats, line, sizeof(line));
	printf("%s%s (%.1f s)\n", line, dry_run ? "; dry run: nothing written" : "",
	    (double)(clock_mono_ms() - bp.start_ms) / 1000.0);
	report_unmapped_summary(&stats, line, sizeof(line));
	if (line[0] != '\0')
		printf("%s\n", line);
	if (!ok) {
		rc = ctl_fail(cmd, "stopped: %s", err.message);
		goto cleanup;
	}
	if (push) {
		pushrun_stats_t ps;
		bool pok;

		/* The push engine takes its own client from the pool. */
		store_push(c.store, c.client);
		c.client = NULL;
		pok = pushrun_until_idle(c.cfg, c.store, c.instance, backfill_on_push_progress, NULL,
		    &ps, &err);
		printf("pushed %llu, retried %llu, parked %llu in %.1f s; left: %lld pending "
		    "(%lld due), %lld in flight, %lld parked\n", (unsigned long long)ps.pushed,
		    (unsigned long long)ps.retried, (unsigned long long)ps.parked,
		    (double)ps.elapsed_ms / 1000.0, (long long)ps.left.pending,
		    (long long)ps.left.due, (long long)ps.left.in_flight, (long long)ps.left.parked);
		if (!pok)
			rc = ctl_fail(cmd, "%s", err.message);
		else if (ps.left.pending > 0)
			fprintf(stderr, "ticketsyncctl %s: %lld detection(s) wait for a retry; the "
			    "daemon sends them when they are due\n", cmd->name,
			    (long long)ps.left.pending);
	}
cleanup:
	ctl_close(&c);
	return rc;
}

/* ---- create-tickets ---- */

/* The options of create-tickets and sync-from-extrahop: -c, --since TIME, --dry-run.
 * -1 to go on, else the exit status (help printed, or a usage error). */
static int
parse_since_dry_run(int argc, char **argv, const ctl_cmd_t *cmd, const char **path,
    int64_t *since_ms, bool *dry_run)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "since", required_argument, NULL, 's' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *since_arg = NULL;
	char why[256];
	int ch;

	while ((ch = ctl_getopt(argc, argv, ":c:s:nh", longopts)) != -1) {
		switch (ch) {
		case 'c': *path = optarg; break;
		case 's': since_arg = optarg; break;
		case 'n': *dry_run = true; break;
		case 'h': cmd_usage(stdout, cmd); return EXIT_OK;
		default: return bad_option(cmd, ch, argv);
		}
	}
	if (optind < argc)
		return usage_error(cmd, "unexpected argument \"%s\"", argv[optind]);
	if (since_arg != NULL &&
	    !timefmt_parse_since(since_arg, clock_wall_ms(), since_ms, why, sizeof(why)))
		return usage_error(cmd, "--since: %s", why);
	return -1;
}

static int
cmd_create_tickets(int argc, char **argv, const ctl_cmd_t *cmd)
{
	const char *path = NULL;
	int64_t since_ms = 0, total;
	bool dry_run = false, ok;
	refresh_stats_t stats = { 0 };
	backfill_progress_t bp = { 0 };
	bson_error_t err;
	char t[TIMEFMT_ISO_MAX];
	ctl_t c;
	int rc;

	if ((rc = parse_since_dry_run(argc, argv, cmd, &path, &since_ms, &dry_run)) != -1)
		return rc;
	if ((rc = ctl_open(&c, cmd, path, false)) != EXIT_OK)
		return rc;
	if (!c.cfg->create.enabled) {
		rc = ctl_fail(cmd, "ticket creation is off: set [create] enabled = true (and its "
		    "target's section) first, or nothing would ever create the tickets");
		goto cleanup;
	}
	{
		/* Every detection without a ticket that qualifies, first seen since --since
		 * (default: all, whatever [create] since says: this is the asking). */
		refresh_ctx_t rctx = {
			.database = c.db,
			.map = c.cfg->statusmap.map,
			.instance = c.instance,
			.dry_run = dry_run,
			.create = c.cfg->create.spec,
			.create_start_ms = since_ms,
			.create_only = true,
		};

		total = backfill_total(&c, 0);
		bp.total = total > 0 ? (uint64_t)total : 0;
		bp.tty = isatty(STDERR_FILENO) == 1;
		bp.start_ms = bp.last_ms = clock_mono_ms();
		if (since_ms > 0) {
			timefmt_format_iso8601(since_ms, false, t, sizeof(t));
			fprintf(stderr, "create-tickets: detections first seen since %s\n", t);
		}
		ok = refresh_all(c.client, &rctx, 0, (size_t)c.cfg->watch.rescan_batch,
		    backfill_on_progress, &bp, &stats, &err);
		backfill_show(&bp, stats.scanned + stats.missing, true);
	}
	printf("scanned %llu detection(s): %s %llu for a ticket in %s, %llu already queued%s "
	    "(%.1f s)\n", (unsigned long long)stats.scanned,
	    dry_run ? "would queue" : "queued", (unsigned long long)stats.create_queued,
	    ticketspec_target_name(ticketspec_target(c.cfg->create.spec)),
	    (unsigned long long)stats.create_existing, dry_run ? "; dry run: nothing written" : "",
	    (double)(clock_mono_ms() - bp.start_ms) / 1000.0);
	if (!ok)
		rc = ctl_fail(cmd, "stopped: %s", err.message);
	else if (stats.create_queued > 0 && !dry_run)
		fprintf(stderr, "ticketsyncctl %s: the active ticketsyncd creates them at [create] "
		    "rate_limit = %lld/s; `ticketsyncctl status` shows the queue\n", cmd->name,
		    (long long)c.cfg->create.rate_limit);
cleanup:
	ctl_close(&c);
	return rc;
}

/* ---- sync-from-extrahop ---- */

typedef struct sync_progress {
	bool tty;
	int64_t start_ms, last_ms;
} sync_progress_t;

static void
sync_on_page(void *arg, const sweeper_result_t *r)
{
	sync_progress_t *sp = arg;
	int64_t now = clock_mono_ms();
	char t[TIMEFMT_ISO_MAX];

	if (!sp->tty && now - sp->last_ms < 1000)
		return;
	sp->last_ms = now;
	timefmt_format_iso8601(r->cursor_ms, false, t, sizeof(t));
	fprintf(stderr, "%sread %llu detection(s) in %lld page(s), up to mod_time %s; repaired "
	    "%llu, drift %llu%s", sp->tty ? "\r" : "progress: ",
	    (unsigned long long)r->stats.read, (long long)r->pages, t,
	    (unsigned long long)r->stats.repaired, (unsigned long long)r->stats.drift,
	    sp->tty ? "\033[K" : "\n");
}

static int
cmd_sync(int argc, char **argv, const ctl_cmd_t *cmd)
{
	const char *path = NULL;
	int64_t since_ms = 0;
	bool dry_run = false, ok;
	sync_progress_t sp = { 0 };
	sweeper_opts_t so;
	sweeper_result_t res;
	bson_error_t err;
	ctl_t c;
	int rc;

	if ((rc = parse_since_dry_run(argc, argv, cmd, &path, &since_ms, &dry_run)) != -1)
		return rc;
	if ((rc = ctl_open(&c, cmd, path, true)) != EXIT_OK)
		return rc;
	sweeper_opts_from_config(c.cfg, c.instance, &so);
	so.dry_run = dry_run;
	/* Without --since: everything ExtraHop has (a fresh install, an outage of unknown
	 * length); the daemon's own cursor is advanced, not used. */
	so.since_ms = since_ms > 0 ? since_ms : 1;
	so.overlap_ms = 0;
	sp.tty = isatty(STDERR_FILENO) == 1;
	sp.start_ms = sp.last_ms = clock_mono_ms();
	store_push(c.store, c.client);
	c.client = NULL;
	ok = sweeper_run_once(c.cfg, c.store, &so, sync_on_page, &sp, &res, &err);
	if (sp.tty)
		fputc('\n', stderr);
	printf("read %llu detection(s) from ExtraHop in %lld page(s): repaired %llu (missing "
	    "%llu, older %llu), drift %llu (reasserted %llu, reported %llu), rejected %llu%s "
	    "(%.1f s)\n", (unsigned long long)res.stats.read, (long long)res.pages,
	    (unsigned long long)res.stats.repaired, (unsigned long long)res.stats.missing,
	    (unsigned long long)res.stats.older, (unsigned long long)res.stats.drift,
	    (unsigned long long)res.stats.reasserted, (unsigned long long)res.stats.reported,
	    (unsigned long long)res.stats.rejected, dry_run ? "; dry run: nothing written" : "",
	    (double)(clock_mono_ms() - sp.start_ms) / 1000.0);
	if (!ok)
		rc = ctl_fail(cmd, "stopped: %s", err.message);
	else if (res.stats.drift > 0 || res.stats.repaired > 0 || res.stats.rejected > 0)
		fprintf(stderr, "ticketsyncctl %s: `ticketsyncctl audit --event drift` (or "
		    "detection_repaired, sweep_rejected) lists each\n", cmd->name);
	ctl_close(&c);
	return rc;
}

/* ---- status ---- */

static int
cmd_status(int argc, char **argv, const ctl_cmd_t *cmd)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "json", no_argument, NULL, 'j' },
		{ "parked", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = NULL;
	bool json = false;
	size_t parked = CTL_PARKED_DEFAULT;
	overview_t o;
	bson_error_t err;
	ctl_t c;
	int ch, rc;

	while ((ch = ctl_getopt(argc, argv, ":c:jp:h", longopts)) != -1) {
		switch (ch) {
		case 'c': path = optarg; break;
		case 'j': json = true; break;
		case 'p':
			if (!parse_count(optarg, &parked))
				return usage_error(cmd, "--parked takes a count, not \"%s\"", optarg);
			break;
		case 'h': cmd_usage(stdout, cmd); return EXIT_OK;
		default: return bad_option(cmd, ch, argv);
		}
	}
	if (optind < argc)
		return usage_error(cmd, "unexpected argument \"%s\"", argv[optind]);
	if ((rc = ctl_open(&c, cmd, path, false)) != EXIT_OK)
		return rc;
	if (!overview_collect(c.client, c.db, clock_wall_ms(), parked, &o, &err)) {
		rc = ctl_fail(cmd, "%s", err.message);
	} else if (json) {
		bson_t doc;
		report_status_json(&o, &doc);
		report_json_print(stdout, &doc);
		bson_destroy(&doc);
	} else {
		report_status_print(stdout, &o);
	}
	overview_free(&o);
	ctl_close(&c);
	return rc;
}

/* ---- audit ---- */

typedef struct audit_out {
	bool json;
	report_table_t *table;
} audit_out_t;

static bool
audit_on_record(const bson_t *doc, void *arg)
{
	audit_out_t *ao = arg;

	if (ao->json) {
		bson_t out;
		report_audit_json(doc, &out);
		report_json_print(stdout, &out);
		bson_destroy(&out);
	} else {
		char cells[REPORT_AUDIT_COLS][REPORT_CELL_MAX];
		const char *ptrs[REPORT_AUDIT_COLS];
		report_audit_cells(doc, cells);
		for (int i = 0; i < REPORT_AUDIT_COLS; i++)
			ptrs[i] = cells[i];
		report_table_add(ao->table, ptrs);
	}
	return true;
}

static int
cmd_audit(int argc, char **argv, const ctl_cmd_t *cmd)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "detection", required_argument, NULL, 'd' },
		{ "ticket", required_argument, NULL, 't' },
		{ "event", required_argument, NULL, 'e' },
		{ "since", required_argument, NULL, 's' },
		{ "limit", required_argument, NULL, 'l' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = NULL;
	audit_query_t q = { .limit = CTL_AUDIT_DEFAULT_LIMIT };
	audit_out_t ao = { 0 };
	int64_t *ids = NULL;
	size_t nids = 0, capids = 0, n = 0;
	bson_error_t err;
	char why[256];
	ctl_t c;
	int ch, rc;

	while ((ch = ctl_getopt(argc, argv, ":c:d:t:e:s:l:jh", longopts)) != -1) {
		switch (ch) {
		case 'c': path = optarg; break;
		case 'd':
			if (nids > 0 || !parse_detection_ids(optarg, &ids, &nids, &capids) || nids != 1) {
				free(ids);
				return usage_error(cmd, "--detection takes one id from 1 to 2^53 (\"%s\")",
				    optarg);
			}
			q.has_detection_id = true;
			q.detection_id = ids[0];
			break;
		case 't':
			if (optarg[0] == '\0' || strlen(optarg) > FIELDS_TICKET_ID_MAX) {
				free(ids);
				return usage_error(cmd, "--ticket takes a ticket id of 1..%d bytes",
				    FIELDS_TICKET_ID_MAX);
			}
			q.ticket_id = optarg;
			break;
		case 'e':
			if (!audit_event_known(optarg)) {
				char names[1024];

				audit_event_names(names, sizeof(names));
				free(ids);
				return usage_error(cmd, "--event: no event \"%s\"; the events are %s", optarg,
				    names);
			}
			q.event = optarg;
			break;
		case 's':
			if (!timefmt_parse_since(optarg, clock_wall_ms(), &q.since_ms, why, sizeof(why))) {
				free(ids);
				return usage_error(cmd, "--since: %s", why);
			}
			if (q.since_ms == 0)
				q.since_ms = 1; /* 0 would mean "any" */
			break;
		case 'l':
			if (!parse_count(optarg, &q.limit)) {
				free(ids);
				return usage_error(cmd, "--limit takes a count (0: all), not \"%s\"", optarg);
			}
			break;
		case 'j': ao.json = true; break;
		case 'h': free(ids); cmd_usage(stdout, cmd); return EXIT_OK;
		default: free(ids); return bad_option(cmd, ch, argv);
		}
	}
	free(ids);
	if (optind < argc)
		return usage_error(cmd, "unexpected argument \"%s\"", argv[optind]);
	if (q.has_detection_id && q.ticket_id != NULL)
		return usage_error(cmd, "--detection and --ticket exclude each other");
	if ((rc = ctl_open(&c, cmd, path, false)) != EXIT_OK)
		return rc;
	if (!ao.json)
		ao.table = report_audit_table_new();
	if (!audit_query(c.client, c.db, &q, audit_on_record, &ao, &n, &err)) {
		rc = ctl_fail(cmd, "%s", err.message);
		goto cleanup;
	}
	if (!ao.json) {
		if (n == 0)
			printf("no audit records match\n");
		else
			report_table_print(ao.table, stdout);
		if (q.limit > 0 && n == q.limit)
			fprintf(stderr, "(the newest %zu records; --limit N shows more, --limit 0 all)\n",
			    n);
	}
cleanup:
	report_table_free(ao.table);
	ctl_close(&c);
	return rc;
}

/* ---- replay-parked ---- */

typedef struct replay_ctx {
	int64_t *ids;
	size_t n, cap;
} replay_ctx_t;

static bool
replay_on_parked(const bson_t *doc, void *arg)
{
	replay_ctx_t *r = arg;
	bson_iter_t it;
	int64_t id;

	if (!bson_iter_init_find(&it, doc, "_id") || !store_iter_int64(&it, &id))
		return true;
	if (r->n == r->cap) {
		size_t c = r->cap ? r->cap * 2 : 64;
		r->ids = xreallocarray(r->ids, c, sizeof(int64_t));
		r->cap = c;
	}
	r->ids[r->n++] = id;
	return true;
}

static int
cmd_replay(int argc, char **argv, const ctl_cmd_t *cmd)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "detection", required_argument, NULL, 'd' },
		{ "create", no_argument, NULL, 'C' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = NULL, *coll = STORE_COLL_STATE;
	bool create = false;
	replay_ctx_t want = { 0 };
	int64_t *replayed = NULL;
	size_t nreplayed = 0;
	audit_record_t *recs = NULL;
	bson_error_t err;
	bool named;
	ctl_t c;
	int ch, rc;

	while ((ch = ctl_getopt(argc, argv, ":c:d:Ch", longopts)) != -1) {
		switch (ch) {
		case 'c': path = optarg; break;
		case 'd':
			if (!parse_detection_ids(optarg, &want.ids, &want.n, &want.cap)) {
				free(want.ids);
				return usage_error(cmd, "--detection takes ids from 1 to 2^53 (\"%s\")",
				    optarg);
			}
			break;
		case 'C': coll = STORE_COLL_CREATE_STATE, create = true; break;
		case 'h': free(want.ids); cmd_usage(stdout, cmd); return EXIT_OK;
		default: free(want.ids); return bad_option(cmd, ch, argv);
		}
	}
	if (optind < argc) {
		free(want.ids);
		return usage_error(cmd, "unexpected argument \"%s\"", argv[optind]);
	}
	if ((rc = ctl_open(&c, cmd, path, false)) != EXIT_OK) {
		free(want.ids);
		return rc;
	}
	named = want.n > 0;
	/* --detection 5 --detection 5 replays 5 once (and says nothing of a second). */
	for (size_t i = 0; i < want.n; i++)
		for (size_t j = i + 1; j < want.n;)
			if (want.ids[j] == want.ids[i])
				want.ids[j] = want.ids[--want.n];
			else
				j++;
	if (!named) {
		/* All of them: list first, so each replay is audited under its detection. */
		if (!outbox_view_parked(c.client, c.db, coll, 0, replay_on_parked, &want, &err)) {
			rc = ctl_fail(cmd, "%s", err.message);
			goto cleanup;
		}
	}
	replayed = xcalloc(want.n, sizeof(int64_t));
	/* One detection at a time: the count says exactly which ones were parked, so the
	 * audit trail never claims a replay that did not happen. */
	for (size_t i = 0; i < want.n; i++) {
		int64_t count = 0;
		if (!outbox_replay_parked(c.client, c.db, coll, &want.ids[i], 1,
		        clock_wall_ms(), &count, &err)) {
			rc = ctl_fail(cmd, "detection %lld: %s", (long long)want.ids[i], err.message);
			break;
		}
		if (count > 0)
			replayed[nreplayed++] = want.ids[i];
		else if (named)
			fprintf(stderr, "ticketsyncctl %s: detection %lld is not parked; nothing to "
			    "replay\n", cmd->name, (long long)want.ids[i]);
	}
	recs = xcalloc(nreplayed, sizeof(*recs));
	for (size_t off = 0; off < nreplayed; off += AUDIT_BATCH_MAX) {
		size_t take = nreplayed - off < AUDIT_BATCH_MAX ? nreplayed - off : AUDIT_BATCH_MAX;
		for (size_t i = 0; i < take; i++)
			recs[i] = (audit_record_t){
				.event = AUDIT_REPLAYED,
				.has_detection_id = true,
				.detection_id = replayed[off + i],
				.message = !create
				    ? "parked detection queued again by ticketsyncctl replay-parked"
				    : "parked ticket creation queued again by ticketsyncctl replay-parked --create",
				.instance = c.instance,
			};
		if (!audit_append_many(c.client, c.db, recs, take, &err))
			log_warnx("audit write failed: %s", err.message);
	}
	printf("replayed %zu parked %s%s\n", nreplayed,
	    create ? "ticket creation(s)" : "detection(s)",
	    nreplayed ? "; the daemon sends them at its next tick" : "");
cleanup:
	free(recs);
	free(replayed);
	free(want.ids);
	ctl_close(&c);
	return rc;
}

/* ---- help ---- */

static int
cmd_help(int argc, char **argv, const ctl_cmd_t *cmd)
{
	const ctl_cmd_t *target;

	if (argc < 2) {
		usage(stdout);
		return EXIT_OK;
	}
	if (argc > 2)
		return usage_error(cmd, "one command at a time");
	target = ctl_find(argv[1]);
	if (target == NULL || target->run == cmd_help)
		return usage_error(NULL, "unknown command \"%s\"", argv[1]);
	cmd_usage(stdout, target);
	return EXIT_OK;
}

static const ctl_cmd_t ctl_cmds[] = {
	{ "init", "check the MongoDB deployment; create collections, validators, indexes",
	  "Check the MongoDB deployment (a replica set or sharded cluster, 4.4 or newer:\n"
	  "change streams need one) and create the collections, validators and indexes\n"
	  "kept in schema/. Safe to repeat: a second run changes nothing.",
	  "init [--dry-run]",
	  "  -n, --dry-run      print what would change, change nothing\n", cmd_init },
	{ "import-tickets", "upsert tickets from a CSV or JSON Lines export",
	  "Upsert tickets into the tickets collection from a CSV export with a header\n"
	  "(detection_id,ticket_id,status,assignee,resolution, optionally updated_at and\n"
	  "status_category; an empty value means null) or from JSON Lines. Rows of one ticket merge their\n"
	  "detection ids. Each bad row is reported as FILE:LINE: reason and the good rows\n"
	  "are imported; the exit status is 1 if any row was bad. The daemon sees the\n"
	  "changed tickets through its change stream.",
	  "import-tickets [--format csv|jsonl] [--strict] [--dry-run] FILE|-",
	  "  -f, --format FMT   csv or jsonl (default: by extension, then by content)\n"
	  "  -s, --strict       any bad row: write nothing\n"
	  "  -n, --dry-run      check the file, write nothing\n", cmd_import },
	{ "backfill", "reconcile detections against tickets now and queue the differences",
	  "Reconcile every detection (or the ones named) against its tickets now and queue\n"
	  "the differences for the daemon to push. Safe while the daemon runs. A progress\n"
	  "bar on a terminal, progress lines otherwise, and a summary at the end.",
	  "backfill [--since TIME] [--detection ID ...] [--dry-run] [--push]",
	  "  -s, --since TIME   only detections updated since TIME: ISO-8601 (UTC unless an\n"
	  "                     offset is given), epoch ms, or an age such as 24h or 7d\n"
	  "  -d, --detection ID these detections only (repeat, or 1,2,3)\n"
	  "  -n, --dry-run      count what would be queued, write nothing\n"
	  "  -p, --push         then push through the daemon's engine and limits until\n"
	  "                     nothing is due (needs the [extrahop] settings)\n", cmd_backfill },
	{ "create-tickets", "ticket existing detections that have none",
	  "Queue a ticket creation ([create]) for every detection that qualifies and has no\n"
	  "ticket yet (none in tickets, no ticket_id on it, none queued), whatever\n"
	  "[create] since says; the active ticketsyncd then creates them, exactly once,\n"
	  "at [create] rate_limit.",
	  "create-tickets [--since TIME] [--dry-run]",
	  "  -s, --since TIME   only detections first seen since TIME (as for backfill)\n"
	  "  -n, --dry-run      count what would be queued, write nothing\n", cmd_create_tickets },
	{ "sync-from-extrahop", "read ExtraHop's detections: repair lost ones, find UI edits",
	  "Read every detection ExtraHop has (or those changed since TIME) through its\n"
	  "search API, as the daemon's periodic sweep ([sweep]) does: write the ones missing\n"
	  "or older in MongoDB (a lost ODS write, a fresh install), and audit ticket fields\n"
	  "edited in ExtraHop's UI (drift; pushed again with [sweep] on_drift = reassert).\n"
	  "Safe while the daemon runs. Memory stays bounded by one page.",
	  "sync-from-extrahop [--since TIME] [--dry-run]",
	  "  -s, --since TIME   only detections ExtraHop modified since TIME (as for backfill)\n"
	  "  -n, --dry-run      count what would be repaired or reasserted, write nothing\n",
	  cmd_sync },
	{ "status", "pending, parked, last push, checkpoint, counts by outcome",
	  "Pending, in flight, synced and parked detections (parked ones with their\n"
	  "reasons), the last acknowledged push, the checkpoint's age and lag, and the\n"
	  "audit trail counted by event.",
	  "status [--json] [--parked N]",
	  "  -j, --json         one JSON object, for scripts\n"
	  "  -p, --parked N     list up to N parked detections (default 10)\n", cmd_status },
	{ "audit", "show the audit trail",
	  "The audit trail (every push attempt and every input refused or not mapped),\n"
	  "newest first, as an aligned table or as JSON Lines.",
	  "audit [--detection ID | --ticket ID] [--event NAME] [--since TIME] [--limit N] [--json]",
	  "  -d, --detection ID records of one detection\n"
	  "  -t, --ticket ID    records of one ticket\n"
	  "  -e, --event NAME   one kind: pushed, retry, parked, rejected_input, ...\n"
	  "  -s, --since TIME   as for backfill\n"
	  "  -l, --limit N      at most N records (default 50, 0: all)\n"
	  "  -j, --json         JSON Lines, one record per line\n", cmd_audit },
	{ "replay-parked", "queue parked detections again",
	  "Queue parked detections (ones ExtraHop refused; with --create, ticket creations\n"
	  "the ticket system refused) again, due now; each replay is\n"
	  "audited as \"replayed\".",
	  "replay-parked [--create] [--detection ID ...]",
	  "  -d, --detection ID only these (repeat, or 1,2,3); default: all parked\n"
	  "  -C, --create       parked ticket creations instead of parked pushes\n", cmd_replay },
	{ "help", "help on a command", "Help on a command.", "help COMMAND", "", cmd_help },
};

static const ctl_cmd_t *
ctl_find(const char *name)
{
	for (size_t i = 0; i < sizeof(ctl_cmds) / sizeof(ctl_cmds[0]); i++)
		if (strcmp(ctl_cmds[i].name, name) == 0)
			return &ctl_cmds[i];
	return NULL;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = NULL;
	const ctl_cmd_t *cmd;
	char **args = NULL;
	int ch, rc, nargs;

	log_init("ticketsyncctl", LOG_LEVEL_INFO);
	log_route_mongoc();
	/* "+": stop at the command; its own options are parsed by the command. */
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "+:c:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c': path = optarg; break;
		case 'h': usage(stdout); return EXIT_OK;
		case 'V': printf("ticketsyncctl %s\n", TICKETSYNC_VERSION); return EXIT_OK;
		default: return bad_option(NULL, ch, argv);
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	cmd = ctl_find(argv[optind]);
	if (cmd == NULL)
		return usage_error(NULL, "unknown command \"%s\"", argv[optind]);
	/* A -c before the command is passed on as if given after it. */
	nargs = argc - optind + (path ? 2 : 0);
	args = xcalloc((size_t)nargs + 1, sizeof(char *));
	args[0] = argv[optind];
	if (path != NULL) {
		args[1] = (char *)"--config";
		args[2] = (char *)path;
	}
	for (int i = optind + 1, j = path ? 3 : 1; i < argc; i++, j++)
		args[j] = argv[i];
	optind = 0; /* reset getopt for the command (GNU: 0 also re-initialises) */
	/* The push engine runs libevent across threads and libcurl; set both up once. */
	evthread_use_pthreads();
	curl_global_init(CURL_GLOBAL_DEFAULT);
	rc = cmd->run(nargs, args, cmd);
	free(args);
	curl_global_cleanup();
	mongoc_cleanup();
	libevent_global_shutdown();
	return rc;
}
