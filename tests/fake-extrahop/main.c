/*
 * fake_extrahop: a stand-in for ExtraHop's REST API for tests, the demo and benchmarks.
 * Argument parsing and wiring only; see README.md for behaviour.
 */
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "ticketsync/clock.h"
#include "fc_main.h"
#include "fx_auth.h"
#include "fc_fault.h"
#include "fc_json.h"
#include "fc_record.h"
#include "fx_routes.h"
#include "fc_server.h"
#include "fx_store.h"
#include "fx_tls.h"
#include "ticketsync/log.h"

#define FX_MAX_FAULT_FLAGS 32

struct fx_options {
	const char *listen;
	int http_port, https_port;
	const char *tls_dir;
	const char *api_key, *client_id, *client_secret;
	int64_t token_ttl;
	const char *detections_file;
	int64_t detections_count;
	bool auto_create, require_ticket_id, no_ticket_tracking, log_requests;
	int64_t latency_ms;
	int64_t record_limit;
	int64_t max_body;
	uint64_t seed;
	const char *firmware;
	const char *faults[FX_MAX_FAULT_FLAGS];
	size_t nfaults;
	enum log_level log_level;
};

static void
fx_usage(FILE *f)
{
	fprintf(f,
	    "usage: fake_extrahop [--listen ADDR] [--http-port N] [--https-port N]\n"
	    "         [--tls-dir DIR] [--api-key KEY] [--client-id ID --client-secret S]\n"
	    "         [--token-ttl SECONDS] [--detections FILE.json] [--detections-count N]\n"
	    "         [--auto-create] [--require-ticket-id] [--no-ticket-tracking]\n"
	    "         [--latency-ms N] [--fault JSON]... [--seed N] [--log-requests]\n"
	    "         [--record-limit N] [--max-body BYTES] [--firmware VERSION]\n"
	    "         [--log-level debug|info|warn|error]\n"
	    "Prints one READY line on stdout when listening; SIGTERM/SIGINT stop it.\n");
}

static int
fx_parse_int(const char *name, const char *v, int64_t min, int64_t max, int64_t *out)
{
	return fc_main_parse_int("fake_extrahop", name, v, min, max, out);
}

/* Returns 0 to run, 1 to exit successfully (--help), -1 on a usage error. */
static int
fx_parse_args(int argc, char **argv, struct fx_options *o)
{
	enum { O_LISTEN = 256, O_HTTP, O_HTTPS, O_TLS, O_KEY, O_CID, O_CSECRET, O_TTL, O_DET,
		O_DETN, O_AUTO, O_REQTID, O_NOTT, O_LAT, O_FAULT, O_SEED, O_LOGREQ, O_RECLIM,
		O_MAXBODY, O_FW, O_LOGLEVEL, O_HELP };
	static const struct option longopts[] = {
		{ "listen", required_argument, NULL, O_LISTEN },
		{ "http-port", required_argument, NULL, O_HTTP },
		{ "https-port", required_argument, NULL, O_HTTPS },
		{ "tls-dir", required_argument, NULL, O_TLS },
		{ "api-key", required_argument, NULL, O_KEY },
		{ "client-id", required_argument, NULL, O_CID },
		{ "client-secret", required_argument, NULL, O_CSECRET },
		{ "token-ttl", required_argument, NULL, O_TTL },
		{ "detections", required_argument, NULL, O_DET },
		{ "detections-count", required_argument, NULL, O_DETN },
		{ "auto-create", no_argument, NULL, O_AUTO },
		{ "require-ticket-id", no_argument, NULL, O_REQTID },
		{ "no-ticket-tracking", no_argument, NULL, O_NOTT },
		{ "latency-ms", required_argument, NULL, O_LAT },
		{ "fault", required_argument, NULL, O_FAULT },
		{ "seed", required_argument, NULL, O_SEED },
		{ "log-requests", no_argument, NULL, O_LOGREQ },
		{ "record-limit", required_argument, NULL, O_RECLIM },
		{ "max-body", required_argument, NULL, O_MAXBODY },
		{ "firmware", required_argument, NULL, O_FW },
		{ "log-level", required_argument, NULL, O_LOGLEVEL },
		{ "help", no_argument, NULL, O_HELP },
		{ NULL, 0, NULL, 0 },
	};
	int c;
	int64_t v;

	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case O_LISTEN: o->listen = optarg; break;
		case O_HTTP:
			if (fx_parse_int("http-port", optarg, 0, 65535, &v))
				return -1;
			o->http_port = (int)v;
			break;
		case O_HTTPS:
			if (fx_parse_int("https-port", optarg, 0, 65535, &v))
				return -1;
			o->https_port = (int)v;
			break;
		case O_TLS: o->tls_dir = optarg; break;
		case O_KEY: o->api_key = optarg; break;
		case O_CID: o->client_id = optarg; break;
		case O_CSECRET: o->client_secret = optarg; break;
		case O_TTL:
			if (fx_parse_int("token-ttl", optarg, 1, 86400 * 365, &o->token_ttl))
				return -1;
			break;
		case O_DET: o->detections_file = optarg; break;
		case O_DETN:
			if (fx_parse_int("detections-count", optarg, 0, 100000000,
				&o->detections_count))
				return -1;
			break;
		case O_AUTO: o->auto_create = true; break;
		case O_REQTID: o->require_ticket_id = true; break;
		case O_NOTT: o->no_ticket_tracking = true; break;
		case O_LAT:
			if (fx_parse_int("latency-ms", optarg, 0, 3600000, &o->latency_ms))
				return -1;
			break;
		case O_FAULT:
			if (o->nfaults == FX_MAX_FAULT_FLAGS) {
				fprintf(stderr, "fake_extrahop: at most %d --fault flags\n",
				    FX_MAX_FAULT_FLAGS);
				return -1;
			}
			o->faults[o->nfaults++] = optarg;
			break;
		case O_SEED:
			if (fx_parse_int("seed", optarg, 0, INT64_MAX, &v))
				return -1;
			o->seed = (uint64_t)v;
			break;
		case O_LOGREQ: o->log_requests = true; break;
		case O_RECLIM:
			if (fx_parse_int("record-limit", optarg, 0, 100000000, &o->record_limit))
				return -1;
			break;
		case O_MAXBODY:
			if (fx_parse_int("max-body", optarg, 1024, 64L * 1024 * 1024, &o->max_body))
				return -1;
			break;
		case O_FW: o->firmware = optarg; break;
		case O_LOGLEVEL:
			if (log_level_parse(optarg, &o->log_level) != 0) {
				fprintf(stderr, "fake_extrahop: bad --log-level %s\n", optarg);
				return -1;
			}
			break;
		case O_HELP:
			fx_usage(stdout);
			return 1;
		default:
			fx_usage(stderr);
			return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "fake_extrahop: unexpected argument \"%s\"\n", argv[optind]);
		return -1;
	}
	if ((o->client_id == NULL) != (o->client_secret == NULL)) {
		fprintf(stderr, "fake_extrahop: --client-id and --client-secret go together\n");
		return -1;
	}
	return 0;
}

static void
fx_on_signal(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	log_info("signal %d: stopping", (int)sig);
	event_base_loopbreak(arg);
}

int
main(int argc, char **argv)
{
	struct fx_options o = {
		.listen = "127.0.0.1", .token_ttl = 3600, .record_limit = 100000,
		.max_body = 1024 * 1024, .firmware = "9.6.0.1770", .log_level = LOG_LEVEL_INFO,
	};
	fx_ctx_t ctx;
	struct event *sigterm = NULL, *sigint = NULL;
	SSL_CTX *tls = NULL;
	bson_error_t error;
	char ca_file[PATH_MAX] = "", host[128];
	int rc = 1, parsed;

	memset(&ctx, 0, sizeof(ctx));
	parsed = fx_parse_args(argc, argv, &o);
	if (parsed != 0)
		return parsed > 0 ? 0 : 2;
	log_init("fake_extrahop", o.log_level);
	/* A client that hangs up mid-reply must not kill the server. */
	signal(SIGPIPE, SIG_IGN);

	ctx.base = fc_main_base_new();
	ctx.store = fx_store_new();
	ctx.rec = fc_record_new((size_t)o.record_limit);
	ctx.faults = fc_faults_new(o.seed ? o.seed : (uint64_t)getpid() * 2654435761u,
	    "fake ExtraHop", false);
	ctx.auth = fx_auth_new(o.api_key, o.client_id, o.client_secret, o.token_ttl);
	if (ctx.base == NULL || ctx.store == NULL || ctx.rec == NULL || ctx.faults == NULL ||
	    ctx.auth == NULL) {
		log_errorx("out of memory at startup");
		goto cleanup;
	}
	ctx.firmware = o.firmware;
	ctx.auto_create = o.auto_create;
	ctx.ticket_tracking = !o.no_ticket_tracking;
	ctx.require_ticket_id = o.require_ticket_id;
	fx_routes_init(&ctx);
	ctx.routes.base_latency_ms = o.latency_ms;
	ctx.routes.log_requests = o.log_requests;

	for (size_t i = 0; i < o.nfaults; i++) {
		bson_t rule;
		int64_t id;
		int bad = fc_json_parse_object(o.faults[i], strlen(o.faults[i]), &rule, &error) ||
		    fc_faults_add(ctx.faults, &rule, &id, &error);
		bson_destroy(&rule);
		if (bad) {
			log_errorx("--fault %s: %s", o.faults[i], error.message);
			goto cleanup;
		}
	}
	if (o.detections_file != NULL) {
		int64_t n;
		if (fx_store_load_file(ctx.store, o.detections_file, clock_wall_ms(), &n,
			&error) != 0) {
			log_errorx("--detections: %s", error.message);
			goto cleanup;
		}
		log_info("loaded %lld detections from %s", (long long)n, o.detections_file);
	}
	if (o.detections_count > 0 &&
	    fx_store_generate(ctx.store, o.detections_count, clock_wall_ms(), &error) != 0) {
		log_errorx("--detections-count: %s", error.message);
		goto cleanup;
	}
	if (o.tls_dir != NULL) {
		tls = fx_tls_setup(o.tls_dir, o.listen, ca_file, sizeof(ca_file), &error);
		if (tls == NULL) {
			log_errorx("TLS setup in %s: %s", o.tls_dir, error.message);
			goto cleanup;
		}
	}
	{
		fc_server_opts_t so = {
			.listen = o.listen, .http_port = o.http_port, .https_port = o.https_port,
			.tls = tls, .max_body = (size_t)o.max_body, .timeout_s = 120,
		};
		ctx.server = fc_server_new(ctx.base, &so, fc_routes_handle, &ctx.routes, &error);
		if (ctx.server == NULL) {
			log_errorx("%s", error.message);
			goto cleanup;
		}
	}
	sigterm = evsignal_new(ctx.base, SIGTERM, fx_on_signal, ctx.base);
	sigint = evsignal_new(ctx.base, SIGINT, fx_on_signal, ctx.base);
	if (sigterm == NULL || sigint == NULL || evsignal_add(sigterm, NULL) != 0 ||
	    evsignal_add(sigint, NULL) != 0) {
		log_errorx("cannot install signal handlers");
		goto cleanup;
	}

	fc_main_url_host(o.listen, host, sizeof(host));
	{
		int hp = fc_server_http_port(ctx.server), sp = fc_server_https_port(ctx.server);
		char https_url[200] = "";

		if (sp > 0)
			snprintf(https_url, sizeof(https_url), "https://%s:%d", host, sp);
		printf("READY http_port=%d https_port=%d ca_file=%s base_url=http://%s:%d "
		    "https_base_url=%s control_url=http://%s:%d/_fake pid=%d\n",
		    hp, sp, ca_file, host, hp, https_url, host, hp, (int)getpid());
		fflush(stdout);
		log_info("listening http=%s:%d https=%s detections=%zu auth=%s%s%s",
		    o.listen, hp, sp > 0 ? https_url : "off", fx_store_count(ctx.store),
		    o.api_key ? "apikey" : "", o.api_key && o.client_id ? "+" : "",
		    o.client_id ? "oauth2" : (o.api_key ? "" : "open"));
	}

	event_base_dispatch(ctx.base);
	rc = 0;
cleanup:
	if (ctx.server != NULL) {
		fc_routes_flush(&ctx.routes);
		fc_server_free(ctx.server);
	}
	if (sigterm != NULL)
		event_free(sigterm);
	if (sigint != NULL)
		event_free(sigint);
	fx_store_destroy(ctx.store);
	fc_record_destroy(ctx.rec);
	fc_faults_destroy(ctx.faults);
	fx_auth_destroy(ctx.auth);
	SSL_CTX_free(tls);
	if (ctx.base != NULL)
		event_base_free(ctx.base);
	libevent_global_shutdown();
	return rc;
}
