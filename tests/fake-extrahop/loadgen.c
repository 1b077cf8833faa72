/*
 * fake_extrahop_loadgen: drive an HTTP(S) endpoint with N concurrent keep-alive
 * connections (libcurl multi) until K requests are done, then print one line:
 *   requests=K ok=.. errors=.. seconds=.. req_per_s=.. p50_ms=.. p99_ms=.. max_ms=..
 *   new_connections=.. status_204=.. [transport_errors=..]
 * Exit status 0 when every request got a 2xx, 1 otherwise, 2 on usage errors.
 * Each connection keeps one request in flight (HTTP/1.1, no pipelining).
 */
#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct lg_opts {
	const char *url;
	const char *path;   /* "{id}" replaced by the detection id */
	const char *body;   /* "{id}" replaced by the detection id */
	const char *method;
	const char *ca_file;
	const char *api_key;
	const char *bearer;
	long connections;
	long requests;
	long ids;
	long timeout_ms;
};

struct lg_slot {
	CURL *easy;
	struct curl_slist *headers;
	char url[1024];
	char body[4096];
	double started;
};

static double
lg_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t
lg_discard(char *ptr, size_t size, size_t nmemb, void *arg)
{
	(void)ptr;
	(void)arg;
	return size * nmemb;
}

/* Copy tmpl into out replacing every "{id}" with id; false if it does not fit. */
static bool
lg_expand(char *out, size_t outlen, const char *tmpl, long id)
{
	size_t o = 0;
	char num[32];
	int nlen = snprintf(num, sizeof(num), "%ld", id);

	for (const char *p = tmpl; *p != '\0';) {
		if (strncmp(p, "{id}", 4) == 0) {
			if (o + (size_t)nlen >= outlen)
				return false;
			memcpy(out + o, num, (size_t)nlen);
			o += (size_t)nlen;
			p += 4;
		} else {
			if (o + 1 >= outlen)
				return false;
			out[o++] = *p++;
		}
	}
	out[o] = '\0';
	return true;
}

static int
lg_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static bool
lg_prepare(struct lg_slot *s, const struct lg_opts *o, long n)
{
	long id = 1 + n % o->ids;
	char path[512];

	if (!lg_expand(path, sizeof(path), o->path, id) ||
	    snprintf(s->url, sizeof(s->url), "%s%s", o->url, path) >= (int)sizeof(s->url) ||
	    !lg_expand(s->body, sizeof(s->body), o->body, id))
		return false;
	curl_easy_setopt(s->easy, CURLOPT_URL, s->url);
	if (o->body[0] != '\0') {
		curl_easy_setopt(s->easy, CURLOPT_POSTFIELDS, s->body);
		curl_easy_setopt(s->easy, CURLOPT_POSTFIELDSIZE, (long)strlen(s->body));
	}
	s->started = lg_now();
	return true;
}

static void
lg_usage(FILE *f)
{
	fprintf(f,
	    "usage: fake_extrahop_loadgen --url BASE_URL [--connections N] [--requests K]\n"
	    "         [--ids N] [--method PATCH] [--path /api/v1/detections/{id}]\n"
	    "         [--body JSON] [--ca-file FILE] [--api-key KEY | --bearer TOKEN]\n"
	    "         [--timeout-ms MS]\n");
}

static int
lg_long(const char *name, const char *v, long min, long *out)
{
	char *end;

	errno = 0;
	*out = strtol(v, &end, 10);
	if (*v == '\0' || *end != '\0' || errno != 0 || *out < min) {
		fprintf(stderr, "loadgen: --%s wants an integer >= %ld\n", name, min);
		return -1;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "url", required_argument, NULL, 'u' },
		{ "connections", required_argument, NULL, 'c' },
		{ "requests", required_argument, NULL, 'n' },
		{ "ids", required_argument, NULL, 'i' },
		{ "method", required_argument, NULL, 'm' },
		{ "path", required_argument, NULL, 'p' },
		{ "body", required_argument, NULL, 'b' },
		{ "ca-file", required_argument, NULL, 'C' },
		{ "api-key", required_argument, NULL, 'k' },
		{ "bearer", required_argument, NULL, 'B' },
		{ "timeout-ms", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct lg_opts o = {
		.path = "/api/v1/detections/{id}",
		.body = "{\"ticket_id\":\"LOAD-{id}\",\"status\":\"in_progress\","
		    "\"assignee\":\"loadgen\"}",
		.method = "PATCH", .connections = 64, .requests = 50000, .ids = 1000,
		.timeout_ms = 30000,
	};
	struct lg_slot *slots = NULL;
	double *lat = NULL, t0, secs;
	long started = 0, done = 0, ok = 0, transport = 0, new_conns = 0;
	long by_status[600] = { 0 };
	CURLM *multi = NULL;
	char auth[1024];
	int c, rc = 2;

	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'u': o.url = optarg; break;
		case 'c': if (lg_long("connections", optarg, 1, &o.connections)) return 2; break;
		case 'n': if (lg_long("requests", optarg, 1, &o.requests)) return 2; break;
		case 'i': if (lg_long("ids", optarg, 1, &o.ids)) return 2; break;
		case 'm': o.method = optarg; break;
		case 'p': o.path = optarg; break;
		case 'b': o.body = optarg; break;
		case 'C': o.ca_file = optarg; break;
		case 'k': o.api_key = optarg; break;
		case 'B': o.bearer = optarg; break;
		case 't': if (lg_long("timeout-ms", optarg, 1, &o.timeout_ms)) return 2; break;
		case 'h': lg_usage(stdout); return 0;
		default: lg_usage(stderr); return 2;
		}
	}
	if (o.url == NULL || optind < argc) {
		lg_usage(stderr);
		return 2;
	}
	if (o.connections > o.requests)
		o.connections = o.requests;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return 2;
	slots = calloc((size_t)o.connections, sizeof(*slots));
	lat = calloc((size_t)o.requests, sizeof(*lat));
	multi = curl_multi_init();
	if (slots == NULL || lat == NULL || multi == NULL)
		goto cleanup;
	/* One connection per slot, all kept alive in the multi handle's cache. */
	curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS, o.connections);
	curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, o.connections);
	curl_multi_setopt(multi, CURLMOPT_PIPELINING, (long)CURLPIPE_NOTHING);
	auth[0] = '\0';
	if (o.api_key != NULL)
		snprintf(auth, sizeof(auth), "Authorization: ExtraHop apikey=%s", o.api_key);
	else if (o.bearer != NULL)
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", o.bearer);

	for (long i = 0; i < o.connections; i++) {
		struct lg_slot *s = &slots[i];

		s->easy = curl_easy_init();
		if (s->easy == NULL)
			goto cleanup;
		s->headers = curl_slist_append(NULL, "Content-Type: application/json");
		/* No "Expect: 100-continue" round trip for larger bodies. */
		s->headers = curl_slist_append(s->headers, "Expect:");
		if (auth[0] != '\0')
			s->headers = curl_slist_append(s->headers, auth);
		curl_easy_setopt(s->easy, CURLOPT_HTTPHEADER, s->headers);
		curl_easy_setopt(s->easy, CURLOPT_CUSTOMREQUEST, o.method);
		curl_easy_setopt(s->easy, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
		curl_easy_setopt(s->easy, CURLOPT_WRITEFUNCTION, lg_discard);
		curl_easy_setopt(s->easy, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(s->easy, CURLOPT_TCP_NODELAY, 1L);
		curl_easy_setopt(s->easy, CURLOPT_TIMEOUT_MS, o.timeout_ms);
		curl_easy_setopt(s->easy, CURLOPT_PRIVATE, s);
		if (o.ca_file != NULL)
			curl_easy_setopt(s->easy, CURLOPT_CAINFO, o.ca_file);
	}

	t0 = lg_now();
	for (long i = 0; i < o.connections; i++) {
		if (!lg_prepare(&slots[i], &o, started)) {
			fprintf(stderr, "loadgen: url or body too long\n");
			goto cleanup;
		}
		started++;
		curl_multi_add_handle(multi, slots[i].easy);
	}
	while (done < o.requests) {
		int running, nmsgs;
		CURLMsg *m;

		if (curl_multi_perform(multi, &running) != CURLM_OK)
			goto cleanup;
		while ((m = curl_multi_info_read(multi, &nmsgs)) != NULL) {
			struct lg_slot *s;
			long code = 0, conns = 0;

			if (m->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&s);
			curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &code);
			curl_easy_getinfo(s->easy, CURLINFO_NUM_CONNECTS, &conns);
			new_conns += conns;
			lat[done++] = lg_now() - s->started;
			if (m->data.result != CURLE_OK) {
				if (transport++ == 0)
					fprintf(stderr, "loadgen: %s: %s\n", s->url,
					    curl_easy_strerror(m->data.result));
			} else {
				if (code >= 0 && code < 600)
					by_status[code]++;
				if (code >= 200 && code < 300)
					ok++;
			}
			curl_multi_remove_handle(multi, s->easy);
			if (started < o.requests) {
				lg_prepare(s, &o, started++);
				curl_multi_add_handle(multi, s->easy);
			}
		}
		if (done < o.requests && curl_multi_poll(multi, NULL, 0, 1000, NULL) != CURLM_OK)
			goto cleanup;
	}
	secs = lg_now() - t0;
	qsort(lat, (size_t)done, sizeof(*lat), lg_cmp);
	printf("requests=%ld ok=%ld errors=%ld seconds=%.3f req_per_s=%.0f p50_ms=%.2f "
	    "p99_ms=%.2f max_ms=%.2f connections=%ld new_connections=%ld",
	    done, ok, done - ok, secs, (double)done / secs,
	    lat[(size_t)floor(0.50 * (double)(done - 1))] * 1e3,
	    lat[(size_t)floor(0.99 * (double)(done - 1))] * 1e3, lat[done - 1] * 1e3,
	    o.connections, new_conns);
	for (int st = 0; st < 600; st++)
		if (by_status[st] > 0)
			printf(" status_%d=%ld", st, by_status[st]);
	if (transport > 0)
		printf(" transport_errors=%ld", transport);
	printf("\n");
	rc = ok == done ? 0 : 1;
cleanup:
	if (slots != NULL) {
		for (long i = 0; i < o.connections; i++) {
			if (slots[i].easy != NULL) {
				if (multi != NULL)
					curl_multi_remove_handle(multi, slots[i].easy);
				curl_easy_cleanup(slots[i].easy);
			}
			curl_slist_free_all(slots[i].headers);
		}
	}
	if (multi != NULL)
		curl_multi_cleanup(multi);
	free(slots);
	free(lat);
	curl_global_cleanup();
	return rc;
}
