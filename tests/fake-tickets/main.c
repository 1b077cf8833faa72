/*
 * fake_tickets: a stand-in for Jira (Cloud or Data Center), ServiceNow or a generic
 * create-a-ticket HTTP endpoint for tests and the demo. Argument parsing and wiring only; see README.md for behaviour.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "fc_fault.h"
#include "fc_json.h"
#include "fc_main.h"
#include "fc_record.h"
#include "fc_routes.h"
#include "fc_server.h"
#include "ft_auth.h"
#include "ft_routes.h"
#include "ft_store.h"
#include "ft_webhook.h"
#include "ticketsync/clock.h"
#include "ticketsync/log.h"
#include "ticketsync/xalloc.h"

#define FT_PROG "fake_tickets"
#define FT_MAX_FAULT_FLAGS 32

struct ft_options {
	const char *flavour, *listen;
	int64_t port;
	ft_auth_opts_t auth;
	ft_http_opts_t http;
	const char *projects[16];
	size_t nprojects;
	const char *issue_types, *tables;
	int64_t index_delay_ms, rate_limit, record_limit, max_body;
	const char *faults[FT_MAX_FAULT_FLAGS];
	size_t nfaults;
	const char *webhook_url, *webhook_secret;
	uint64_t seed;
	bool log_requests;
	enum log_level log_level;
};

static void
ft_usage(FILE *f)
{
	fprintf(f,
	    "usage: fake_tickets --flavour jira-cloud|jira-dc|servicenow|http [--listen ADDR]\n"
	    "         [--port N] [--email E --api-token T] [--pat P] [--user U --password P]\n"
	    "         [--allow-password-basic] [--client-id ID --client-secret S]\n"
	    "         [--project KEY[,KEY]]... [--issue-types Task,Bug,Incident]\n"
	    "         [--table incident[,...]] [--index-delay-ms N] [--rate-limit N]\n"
	    "         [--http-path /tickets] [--token T] [--hmac-secret S]\n"
	    "         [--signature-header H] [--idempotency-header H] [--id-path a.b.id]\n"
	    "         [--fault JSON]... [--webhook-url URL] [--webhook-secret S] [--seed N]\n"
	    "         [--log-requests] [--record-limit N] [--max-body BYTES]\n"
	    "         [--log-level debug|info|warn|error]\n"
	    "Prints one READY line on stdout when listening; SIGTERM/SIGINT stop it.\n");
}

static int
ft_int(const char *name, const char *v, int64_t min, int64_t max, int64_t *out)
{
	return fc_main_parse_int(FT_PROG, name, v, min, max, out);
}

/* Returns 0 to run, 1 to exit successfully (--help), -1 on a usage error. */
static int
ft_parse_args(int argc, char **argv, struct ft_options *o)
{
	enum { O_FLAVOUR = 256, O_LISTEN, O_PORT, O_EMAIL, O_TOKEN, O_PAT, O_USER, O_PASSWORD,
		O_ALLOWPW, O_CID, O_CSECRET, O_PROJECT, O_TYPES, O_TABLE, O_DELAY, O_RATE,
		O_FAULT, O_WHURL, O_WHSECRET, O_SEED, O_LOGREQ, O_RECLIM, O_MAXBODY, O_LOGLEVEL,
		O_HTTPPATH, O_BEARER, O_HMAC, O_SIGHDR, O_IDEMHDR, O_IDPATH, O_HELP };
	static const struct option longopts[] = {
		{ "flavour", required_argument, NULL, O_FLAVOUR },
		{ "listen", required_argument, NULL, O_LISTEN },
		{ "port", required_argument, NULL, O_PORT },
		{ "email", required_argument, NULL, O_EMAIL },
		{ "api-token", required_argument, NULL, O_TOKEN },
		{ "pat", required_argument, NULL, O_PAT },
		{ "user", required_argument, NULL, O_USER },
		{ "password", required_argument, NULL, O_PASSWORD },
		{ "allow-password-basic", no_argument, NULL, O_ALLOWPW },
		{ "client-id", required_argument, NULL, O_CID },
		{ "client-secret", required_argument, NULL, O_CSECRET },
		{ "project", required_argument, NULL, O_PROJECT },
		{ "issue-types", required_argument, NULL, O_TYPES },
		{ "table", required_argument, NULL, O_TABLE },
		{ "index-delay-ms", required_argument, NULL, O_DELAY },
		{ "rate-limit", required_argument, NULL, O_RATE },
		{ "fault", required_argument, NULL, O_FAULT },
		{ "webhook-url", required_argument, NULL, O_WHURL },
		{ "webhook-secret", required_argument, NULL, O_WHSECRET },
		{ "seed", required_argument, NULL, O_SEED },
		{ "log-requests", no_argument, NULL, O_LOGREQ },
		{ "record-limit", required_argument, NULL, O_RECLIM },
		{ "max-body", required_argument, NULL, O_MAXBODY },
		{ "log-level", required_argument, NULL, O_LOGLEVEL },
		{ "http-path", required_argument, NULL, O_HTTPPATH },
		{ "token", required_argument, NULL, O_BEARER },
		{ "hmac-secret", required_argument, NULL, O_HMAC },
		{ "signature-header", required_argument, NULL, O_SIGHDR },
		{ "idempotency-header", required_argument, NULL, O_IDEMHDR },
		{ "id-path", required_argument, NULL, O_IDPATH },
		{ "help", no_argument, NULL, O_HELP },
		{ NULL, 0, NULL, 0 },
	};
	int c;
	int64_t v;

	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case O_FLAVOUR: o->flavour = optarg; break;
		case O_LISTEN: o->listen = optarg; break;
		case O_PORT:
			if (ft_int("port", optarg, 0, 65535, &o->port))
				return -1;
			break;
		case O_EMAIL: o->auth.email = optarg; break;
		case O_TOKEN: o->auth.api_token = optarg; break;
		case O_PAT: o->auth.pat = optarg; break;
		case O_USER: o->auth.user = optarg; break;
		case O_PASSWORD: o->auth.password = optarg; break;
		case O_ALLOWPW: o->auth.allow_password_basic = true; break;
		case O_CID: o->auth.client_id = optarg; break;
		case O_CSECRET: o->auth.client_secret = optarg; break;
		case O_PROJECT:
			if (o->nprojects == sizeof(o->projects) / sizeof(o->projects[0])) {
				fprintf(stderr, FT_PROG ": too many --project flags\n");
				return -1;
			}
			o->projects[o->nprojects++] = optarg;
			break;
		case O_TYPES: o->issue_types = optarg; break;
		case O_TABLE: o->tables = optarg; break;
		case O_DELAY:
			if (ft_int("index-delay-ms", optarg, 0, 3600000, &o->index_delay_ms))
				return -1;
			break;
		case O_RATE:
			if (ft_int("rate-limit", optarg, 0, 1000000, &o->rate_limit))
				return -1;
			break;
		case O_FAULT:
			if (o->nfaults == FT_MAX_FAULT_FLAGS) {
				fprintf(stderr, FT_PROG ": at most %d --fault flags\n", FT_MAX_FAULT_FLAGS);
				return -1;
			}
			o->faults[o->nfaults++] = optarg;
			break;
		case O_WHURL: o->webhook_url = optarg; break;
		case O_WHSECRET: o->webhook_secret = optarg; break;
		case O_SEED:
			if (ft_int("seed", optarg, 0, INT64_MAX, &v))
				return -1;
			o->seed = (uint64_t)v;
			break;
		case O_LOGREQ: o->log_requests = true; break;
		case O_RECLIM:
			if (ft_int("record-limit", optarg, 0, 100000000, &o->record_limit))
				return -1;
			break;
		case O_MAXBODY:
			if (ft_int("max-body", optarg, 1024, 64L * 1024 * 1024, &o->max_body))
				return -1;
			break;
		case O_LOGLEVEL:
			if (log_level_parse(optarg, &o->log_level) != 0) {
				fprintf(stderr, FT_PROG ": bad --log-level %s\n", optarg);
				return -1;
			}
			break;
		case O_HTTPPATH: o->http.path = optarg; break;
		case O_BEARER: o->http.token = optarg; break;
		case O_HMAC: o->http.hmac_secret = optarg; break;
		case O_SIGHDR: o->http.signature_header = optarg; break;
		case O_IDEMHDR: o->http.idempotency_header = optarg; break;
		case O_IDPATH: o->http.id_path = optarg; break;
		case O_HELP:
			ft_usage(stdout);
			return 1;
		default:
			ft_usage(stderr);
			return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, FT_PROG ": unexpected argument \"%s\"\n", argv[optind]);
		return -1;
	}
	if (o->flavour == NULL) {
		fprintf(stderr, FT_PROG ": --flavour jira-cloud|jira-dc|servicenow|http is required\n");
		return -1;
	}
	if (strcmp(o->flavour, "jira-cloud") == 0)
		o->auth.flavour = FT_JIRA_CLOUD;
	else if (strcmp(o->flavour, "jira-dc") == 0)
		o->auth.flavour = FT_JIRA_DC;
	else if (strcmp(o->flavour, "servicenow") == 0)
		o->auth.flavour = FT_SERVICENOW;
	else if (strcmp(o->flavour, "http") == 0)
		o->auth.flavour = FT_HTTP;
	else {
		fprintf(stderr, FT_PROG ": unknown --flavour \"%s\"\n", o->flavour);
		return -1;
	}
	/* Options of another flavour are mistakes, not something to ignore quietly. */
	if (o->auth.flavour != FT_JIRA_CLOUD && (o->auth.email || o->auth.api_token)) {
		fprintf(stderr, FT_PROG ": --email/--api-token are for jira-cloud\n");
		return -1;
	}
	if (o->auth.flavour == FT_JIRA_CLOUD && (o->auth.email == NULL) != (o->auth.api_token == NULL)) {
		fprintf(stderr, FT_PROG ": --email and --api-token go together\n");
		return -1;
	}
	if (o->auth.flavour != FT_JIRA_DC && (o->auth.pat || o->auth.allow_password_basic)) {
		fprintf(stderr, FT_PROG ": --pat/--allow-password-basic are for jira-dc\n");
		return -1;
	}
	if ((o->auth.flavour == FT_JIRA_CLOUD || o->auth.flavour == FT_HTTP) &&
	    (o->auth.user || o->auth.password)) {
		fprintf(stderr, FT_PROG ": --user/--password are for servicenow and jira-dc\n");
		return -1;
	}
	if ((o->auth.user == NULL) != (o->auth.password == NULL)) {
		fprintf(stderr, FT_PROG ": --user and --password go together\n");
		return -1;
	}
	if (o->auth.flavour != FT_SERVICENOW && (o->auth.client_id || o->tables)) {
		fprintf(stderr, FT_PROG ": --client-id/--table are for servicenow\n");
		return -1;
	}
	if ((o->auth.client_id == NULL) != (o->auth.client_secret == NULL)) {
		fprintf(stderr, FT_PROG ": --client-id and --client-secret go together\n");
		return -1;
	}
	if (!FT_IS_JIRA(o->auth.flavour) && (o->nprojects || o->issue_types)) {
		fprintf(stderr, FT_PROG ": --project/--issue-types are for jira\n");
		return -1;
	}
	if (o->auth.flavour != FT_HTTP && (o->http.path || o->http.token ||
	    o->http.hmac_secret || o->http.signature_header || o->http.idempotency_header ||
	    o->http.id_path)) {
		fprintf(stderr, FT_PROG ": --http-path/--token/--hmac-secret/--signature-header/"
		    "--idempotency-header/--id-path are for http\n");
		return -1;
	}
	if (o->auth.flavour == FT_HTTP) {
		char err[300];

		if (o->webhook_url || o->webhook_secret || o->index_delay_ms) {
			fprintf(stderr, FT_PROG ": --webhook-url/--webhook-secret/--index-delay-ms "
			    "are not for http (it only creates tickets)\n");
			return -1;
		}
		if (ft_http_opts_check(&o->http, err, sizeof(err)) != 0) {
			fprintf(stderr, FT_PROG ": %s\n", err);
			return -1;
		}
	}
	return 0;
}

static void
ft_on_signal(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	log_info("signal %d: stopping", (int)sig);
	event_base_loopbreak(arg);
}

int
main(int argc, char **argv)
{
	struct ft_options o = {
		.listen = "127.0.0.1", .record_limit = 100000, .max_body = 1024 * 1024,
		.log_level = LOG_LEVEL_INFO,
	};
	ft_ctx_t ctx;
	struct event *sigterm = NULL, *sigint = NULL;
	bson_error_t error;
	char host[128], err[300];
	int rc = 1, parsed;

	memset(&ctx, 0, sizeof(ctx));
	parsed = ft_parse_args(argc, argv, &o);
	if (parsed != 0)
		return parsed > 0 ? 0 : 2;
	log_init(FT_PROG, o.log_level);
	signal(SIGPIPE, SIG_IGN);

	ctx.flavour = o.auth.flavour;
	ctx.flavour_name = o.flavour;
	ctx.me = o.auth.email ? o.auth.email : o.auth.user;
	ctx.base = fc_main_base_new();
	ctx.store = ft_store_new();
	ctx.rec = fc_record_new((size_t)o.record_limit);
	ctx.faults = fc_faults_new(o.seed ? o.seed : (uint64_t)getpid() * 2654435761u,
	    FT_IS_JIRA(ctx.flavour) ? "fake Jira" : ctx.flavour == FT_SERVICENOW
	    ? "fake ServiceNow" : "fake ticket endpoint", true);
	ctx.http = o.http;
	ctx.auth = ft_auth_new(&o.auth);
	if (ctx.base == NULL || ctx.rec == NULL || ctx.faults == NULL) {
		log_errorx("cannot set up the event loop or the recorder");
		goto cleanup;
	}
	ctx.webhook = ft_webhook_new(ctx.base);
	ft_routes_init(&ctx);
	ctx.routes.log_requests = o.log_requests;
	ctx.index_delay_ms = o.index_delay_ms;
	ft_rate_init(&ctx.rate, o.rate_limit, clock_mono_ms());
	for (size_t i = 0; i < o.nprojects; i++)
		ft_list_add(&ctx.projects, &ctx.nprojects, o.projects[i]);
	if (FT_IS_JIRA(ctx.flavour) && ctx.nprojects == 0)
		ft_list_add(&ctx.projects, &ctx.nprojects, "SEC");
	ft_list_add(&ctx.issue_types, &ctx.nissue_types,
	    o.issue_types ? o.issue_types : "Task,Bug,Incident");
	ft_list_add(&ctx.tables, &ctx.ntables, o.tables ? o.tables : "incident");
	if (o.webhook_url != NULL) {
		if (ft_webhook_check_url(o.webhook_url, err, sizeof(err)) != 0) {
			log_errorx("--webhook-url: %s", err);
			goto cleanup;
		}
		ctx.webhook_url = xstrdup(o.webhook_url);
	}
	if (o.webhook_secret != NULL)
		ctx.webhook_secret = xstrdup(o.webhook_secret);
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
	{
		fc_server_opts_t so = {
			.listen = o.listen, .http_port = (int)o.port, .tls = NULL,
			.max_body = (size_t)o.max_body, .timeout_s = 120,
		};
		ctx.server = fc_server_new(ctx.base, &so, fc_routes_handle, &ctx.routes, &error);
		if (ctx.server == NULL) {
			log_errorx("%s", error.message);
			goto cleanup;
		}
	}
	sigterm = evsignal_new(ctx.base, SIGTERM, ft_on_signal, ctx.base);
	sigint = evsignal_new(ctx.base, SIGINT, ft_on_signal, ctx.base);
	if (sigterm == NULL || sigint == NULL || evsignal_add(sigterm, NULL) != 0 ||
	    evsignal_add(sigint, NULL) != 0) {
		log_errorx("cannot install signal handlers");
		goto cleanup;
	}
	fc_main_url_host(o.listen, host, sizeof(host));
	{
		int port = fc_server_http_port(ctx.server);

		snprintf(ctx.base_url, sizeof(ctx.base_url), "http://%s:%d", host, port);
		printf("READY port=%d base_url=%s control_url=%s/_fake flavour=%s pid=%d\n", port,
		    ctx.base_url, ctx.base_url, o.flavour, (int)getpid());
		fflush(stdout);
		log_info("listening %s:%d flavour=%s auth=%s", o.listen, port, o.flavour,
		    ctx.flavour == FT_HTTP ? ft_http_describe(&ctx.http) : ft_auth_describe(ctx.auth));
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
	ft_webhook_free(ctx.webhook);
	ft_store_destroy(ctx.store);
	fc_record_destroy(ctx.rec);
	fc_faults_destroy(ctx.faults);
	ft_auth_destroy(ctx.auth);
	ft_list_free(ctx.projects, ctx.nprojects);
	ft_list_free(ctx.issue_types, ctx.nissue_types);
	ft_list_free(ctx.tables, ctx.ntables);
	free(ctx.webhook_url);
	free(ctx.webhook_secret);
	if (ctx.base != NULL)
		event_base_free(ctx.base);
	libevent_global_shutdown();
	return rc;
}
