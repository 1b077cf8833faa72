/* tsextrahop: the fake ExtraHop API for integration tests, started and driven. */
#include "tsextrahop.h"

#include <curl/curl.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "tshttp.h"

#define TSEXTRAHOP_MAX_ARGS 64

static void
tsextrahop_rmdir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[PATH_MAX + 256];

	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		unlink(path);
	}
	closedir(d);
	rmdir(dir);
}

int
tsextrahop_start(tsextrahop_t *t, const tsextrahop_opts_t *opts, char *err, size_t errlen)
{
	static const tsextrahop_opts_t defaults = { 0 };
	char *argv[TSEXTRAHOP_MAX_ARGS];
	char nums[8][32], bin[PATH_MAX], port[16];
	size_t argc = 0, nn = 0;

	memset(t, 0, sizeof(*t));
	t->proc.pid = -1;
	t->proc.stdout_fd = -1;
	if (opts == NULL)
		opts = &defaults;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	snprintf(bin, sizeof(bin), "%s/fake_extrahop", tsproc_bin_dir());
	argv[argc++] = bin;
#define ARG(s) (argv[argc++] = (char *)(s))
#define NUM(flag, fmt, v)                                                        \
	do {                                                                     \
		snprintf(nums[nn], sizeof(nums[nn]), fmt, v);                    \
		ARG(flag);                                                       \
		ARG(nums[nn++]);                                                 \
	} while (0)
	if (opts->api_key != NULL) {
		ARG("--api-key");
		ARG(opts->api_key);
	}
	if (opts->client_id != NULL) {
		ARG("--client-id");
		ARG(opts->client_id);
		ARG("--client-secret");
		ARG(opts->client_secret ? opts->client_secret : "");
	}
	if (opts->token_ttl > 0)
		NUM("--token-ttl", "%d", opts->token_ttl);
	if (opts->detections_count > 0)
		NUM("--detections-count", "%ld", opts->detections_count);
	if (opts->detections_file != NULL) {
		ARG("--detections");
		ARG(opts->detections_file);
	}
	if (opts->auto_create)
		ARG("--auto-create");
	if (opts->latency_ms > 0)
		NUM("--latency-ms", "%d", opts->latency_ms);
	if (opts->record_limit != 0)
		NUM("--record-limit", "%ld", opts->record_limit < 0 ? 0L : opts->record_limit);
	if (opts->require_ticket_id)
		ARG("--require-ticket-id");
	if (opts->log_requests)
		ARG("--log-requests");
	if (opts->seed != 0)
		NUM("--seed", "%lu", opts->seed);
	if (opts->tls) {
		const char *tmp = getenv("TMPDIR");
		snprintf(t->tls_dir, sizeof(t->tls_dir), "%s/tsextrahop.XXXXXX",
		    tmp && *tmp ? tmp : "/tmp");
		if (mkdtemp(t->tls_dir) == NULL) {
			snprintf(err, errlen, "mkdtemp %s failed", t->tls_dir);
			t->tls_dir[0] = '\0';
			return -1;
		}
		ARG("--tls-dir");
		ARG(t->tls_dir);
	}
	for (size_t i = 0; opts->extra_args != NULL && opts->extra_args[i] != NULL; i++) {
		if (argc + 2 >= TSEXTRAHOP_MAX_ARGS) {
			snprintf(err, errlen, "too many extra_args");
			goto fail;
		}
		ARG(opts->extra_args[i]);
	}
#undef ARG
#undef NUM
	argv[argc] = NULL;

	/* ASan builds start slower; READY normally comes within milliseconds. */
	if (tsproc_start(&t->proc, argv, NULL, opts->stderr_path, 15000, err, errlen) != 0)
		goto fail;
	if (!tsproc_field(&t->proc, "http_port", port, sizeof(port)) ||
	    (t->http_port = atoi(port)) <= 0) {
		snprintf(err, errlen, "READY line without http_port: %s", t->proc.ready_line);
		goto fail;
	}
	if (tsproc_field(&t->proc, "https_port", port, sizeof(port)))
		t->https_port = atoi(port);
	tsproc_field(&t->proc, "ca_file", t->ca_file, sizeof(t->ca_file));
	if (opts->tls && (t->https_port <= 0 || t->ca_file[0] == '\0')) {
		snprintf(err, errlen, "TLS asked for but READY says: %s", t->proc.ready_line);
		goto fail;
	}
	snprintf(t->http_url, sizeof(t->http_url), "http://127.0.0.1:%d", t->http_port);
	if (t->https_port > 0)
		snprintf(t->https_url, sizeof(t->https_url), "https://127.0.0.1:%d",
		    t->https_port);
	snprintf(t->control_url, sizeof(t->control_url), "%s/_fake", t->http_url);
	snprintf(t->base_url, sizeof(t->base_url), "%s", opts->tls ? t->https_url : t->http_url);
	return 0;
fail:
	tsproc_kill(&t->proc);
	if (t->tls_dir[0] != '\0')
		tsextrahop_rmdir(t->tls_dir);
	t->tls_dir[0] = '\0';
	return -1;
}

int
tsextrahop_stop(tsextrahop_t *t)
{
	int status = tsproc_stop(&t->proc, 10000);

	if (t->tls_dir[0] != '\0')
		tsextrahop_rmdir(t->tls_dir);
	t->tls_dir[0] = '\0';
	return status;
}

static size_t
tsextrahop_header(char *ptr, size_t size, size_t nmemb, void *arg)
{
	tsextrahop_response_t *r = arg;
	size_t n = size * nmemb;
	char line[512];
	size_t l = n < sizeof(line) - 1 ? n : sizeof(line) - 1;
	char *v;

	memcpy(line, ptr, l);
	line[l] = '\0';
	line[strcspn(line, "\r\n")] = '\0';
	if ((v = strchr(line, ':')) == NULL)
		return n;
	{
		size_t have = r->headers ? strlen(r->headers) : 0, add = strlen(line);
		char *grown = realloc(r->headers, have + add + 2);

		if (grown != NULL) {
			memcpy(grown + have, line, add);
			grown[have + add] = '\n';
			grown[have + add + 1] = '\0';
			r->headers = grown;
		}
	}
	*v++ = '\0';
	while (*v == ' ')
		v++;
	if (strcasecmp(line, "Retry-After") == 0)
		snprintf(r->retry_after, sizeof(r->retry_after), "%s", v);
	else if (strcasecmp(line, "Content-Type") == 0)
		snprintf(r->content_type, sizeof(r->content_type), "%s", v);
	return n;
}

int
tsextrahop_http(tsextrahop_t *t, const char *method, const char *url,
    const char *const *headers, const char *body, tsextrahop_response_t *resp)
{
	return tsextrahop_http_at(t->base_url, t->ca_file, t->error, sizeof(t->error), method,
	    url, headers, body, resp);
}

bool
tsextrahop_response_header(const tsextrahop_response_t *resp, const char *name, char *out,
    size_t outlen)
{
	size_t nl = strlen(name);
	bool found = false;

	for (const char *p = resp->headers; p != NULL && *p != '\0';) {
		const char *end = strchr(p, '\n');
		size_t ll = end ? (size_t)(end - p) : strlen(p);

		if (ll > nl && strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
			const char *v = p + nl + 1;
			while (*v == ' ')
				v++;
			snprintf(out, outlen, "%.*s", (int)(ll - (size_t)(v - p)), v);
			found = true;
		}
		p = end ? end + 1 : p + ll;
	}
	return found;
}

int
tsextrahop_http_at(const char *base_url, const char *ca_file, char *err, size_t errlen,
    const char *method, const char *url, const char *const *headers, const char *body,
    tsextrahop_response_t *resp)
{
	CURL *c = curl_easy_init();
	struct curl_slist *hl = NULL;
	tshttp_body_t buf = { NULL, 0 };
	char full[2048];
	CURLcode rc;

	memset(resp, 0, sizeof(*resp));
	if (c == NULL) {
		snprintf(err, errlen, "curl_easy_init failed");
		resp->curl_code = CURLE_FAILED_INIT;
		resp->body = calloc(1, 1);
		return -1;
	}
	if (strncmp(url, "http://", 7) == 0 || strncmp(url, "https://", 8) == 0)
		snprintf(full, sizeof(full), "%s", url);
	else
		snprintf(full, sizeof(full), "%s%s", base_url, url);
	for (size_t i = 0; headers != NULL && headers[i] != NULL; i++)
		hl = curl_slist_append(hl, headers[i]);
	/* Only what the caller asks for goes on the wire (tests check exact headers). */
	hl = curl_slist_append(hl, "Expect:");
	if (body == NULL || strcmp(method, "GET") == 0)
		hl = curl_slist_append(hl, "Content-Type:");
	curl_easy_setopt(c, CURLOPT_URL, full);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 30000L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, tshttp_collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &buf);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, tsextrahop_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, resp);
	if (ca_file != NULL && ca_file[0] != '\0')
		curl_easy_setopt(c, CURLOPT_CAINFO, ca_file);
	if (body != NULL) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	}
	rc = curl_easy_perform(c);
	resp->curl_code = (int)rc;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp->status);
	curl_easy_getinfo(c, CURLINFO_TOTAL_TIME, &resp->seconds);
	resp->body = buf.data ? buf.data : calloc(1, 1);
	resp->body_len = buf.len;
	curl_slist_free_all(hl);
	curl_easy_cleanup(c);
	if (rc != CURLE_OK) {
		snprintf(err, errlen, "%s %.300s: %s", method, full, curl_easy_strerror(rc));
		resp->status = 0;
		return -1;
	}
	return 0;
}

void
tsextrahop_response_free(tsextrahop_response_t *resp)
{
	free(resp->body);
	resp->body = NULL;
	free(resp->headers);
	resp->headers = NULL;
}

int
tsextrahop_response_json(const tsextrahop_response_t *resp, bson_t *out)
{
	bson_error_t error;

	if (resp->body == NULL || resp->body_len == 0 ||
	    !bson_init_from_json(out, resp->body, (ssize_t)resp->body_len, &error)) {
		bson_init(out);
		return -1;
	}
	return 0;
}

int
tsextrahop_control_at(const char *control_url, char *err, size_t errlen, const char *method,
    const char *path, const char *body, long want, bson_t *out)
{
	static const char *const json[] = { "Content-Type: application/json", NULL };
	tsextrahop_response_t r;
	char url[1024];
	int rc = -1;

	if (out != NULL)
		bson_init(out);
	snprintf(url, sizeof(url), "%s%s", control_url, path);
	if (tsextrahop_http_at(control_url, NULL, err, errlen, method, url, body ? json : NULL, body,
	        &r) != 0)
		goto cleanup;
	if (r.status != want) {
		snprintf(err, errlen, "%s %s: status %ld (%.300s)", method, path, r.status, r.body);
		goto cleanup;
	}
	if (out != NULL) {
		bson_destroy(out);
		if (tsextrahop_response_json(&r, out) != 0) {
			snprintf(err, errlen, "%s %s: reply is not JSON", method, path);
			goto cleanup;
		}
	}
	rc = 0;
cleanup:
	tsextrahop_response_free(&r);
	return rc;
}

static int
tsextrahop_control(tsextrahop_t *t, const char *method, const char *path, const char *body,
    long want, bson_t *out)
{
	return tsextrahop_control_at(t->control_url, t->error, sizeof(t->error), method, path, body,
	    want, out);
}

int
tsextrahop_add_detection(tsextrahop_t *t, int64_t id, const char *json)
{
	char path[64];

	snprintf(path, sizeof(path), "/detections/%lld", (long long)id);
	return tsextrahop_control(t, "PUT", path, json ? json : "{}", 204, NULL);
}

int
tsextrahop_add_detections(tsextrahop_t *t, const char *json_array)
{
	return tsextrahop_control(t, "POST", "/detections", json_array, 200, NULL);
}

int
tsextrahop_get_detection(tsextrahop_t *t, int64_t id, bson_t *out)
{
	char path[64];

	snprintf(path, sizeof(path), "/detections/%lld", (long long)id);
	return tsextrahop_control(t, "GET", path, NULL, 200, out);
}

int
tsextrahop_requests(tsextrahop_t *t, int64_t since, bson_t *out)
{
	char path[64];

	snprintf(path, sizeof(path), "/requests?since=%lld", (long long)since);
	return tsextrahop_control(t, "GET", path, NULL, 200, out);
}

int64_t
tsextrahop_set_fault(tsextrahop_t *t, const char *json)
{
	bson_t reply;
	int64_t id = -1;

	if (tsextrahop_control(t, "POST", "/faults", json, 200, &reply) == 0)
		id = tsextrahop_int(&reply, "id", -1);
	bson_destroy(&reply);
	return id;
}

int
tsextrahop_clear_faults(tsextrahop_t *t)
{
	return tsextrahop_control(t, "DELETE", "/faults", NULL, 204, NULL);
}

int
tsextrahop_reset(tsextrahop_t *t)
{
	return tsextrahop_control(t, "POST", "/reset", NULL, 204, NULL);
}

int
tsextrahop_stats(tsextrahop_t *t, bson_t *out)
{
	return tsextrahop_control(t, "GET", "/stats", NULL, 200, out);
}

int
tsextrahop_revoke_tokens(tsextrahop_t *t)
{
	return tsextrahop_control(t, "POST", "/tokens/revoke", NULL, 200, NULL);
}

int
tsextrahop_settings(tsextrahop_t *t, const char *json)
{
	return tsextrahop_control(t, "PUT", "/settings", json, 200, NULL);
}

int
tsextrahop_add_raw_search_records(tsextrahop_t *t, const char *json_array)
{
	return tsextrahop_control(t, "POST", "/raw_search_records", json_array, 200, NULL);
}

int64_t
tsextrahop_int(const bson_t *doc, const char *dotted, int64_t dflt)
{
	bson_iter_t it, found;

	if (!bson_iter_init(&it, doc) || !bson_iter_find_descendant(&it, dotted, &found))
		return dflt;
	switch (bson_iter_type(&found)) {
	case BSON_TYPE_INT32:
	case BSON_TYPE_INT64:
	case BSON_TYPE_DOUBLE:
	case BSON_TYPE_BOOL:
		return bson_iter_as_int64(&found);
	default:
		return dflt;
	}
}

const char *
tsextrahop_str(const bson_t *doc, const char *dotted)
{
	bson_iter_t it, found;

	if (!bson_iter_init(&it, doc) || !bson_iter_find_descendant(&it, dotted, &found) ||
	    !BSON_ITER_HOLDS_UTF8(&found))
		return NULL;
	return bson_iter_utf8(&found, NULL);
}
