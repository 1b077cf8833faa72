/* fc_main: option parsing and event-base helpers shared by the fakes' mains. */
#include "fc_main.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
fc_main_parse_int(const char *prog, const char *name, const char *v, int64_t min,
    int64_t max, int64_t *out)
{
	char *end;
	long long n;

	errno = 0;
	n = strtoll(v, &end, 10);
	if (*v == '\0' || *end != '\0' || errno != 0 || n < min || n > max) {
		fprintf(stderr, "%s: --%s wants an integer in %lld..%lld, got \"%s\"\n",
		    prog, name, (long long)min, (long long)max, v);
		return -1;
	}
	*out = n;
	return 0;
}

void
fc_main_url_host(const char *listen, char *out, size_t len)
{
	if (strcmp(listen, "0.0.0.0") == 0)
		snprintf(out, len, "127.0.0.1");
	else if (strcmp(listen, "::") == 0)
		snprintf(out, len, "[::1]");
	else if (strchr(listen, ':') != NULL)
		snprintf(out, len, "[%s]", listen);
	else
		snprintf(out, len, "%s", listen);
}

struct event_base *
fc_main_base_new(void)
{
	struct event_config *cfg = event_config_new();
	struct event_base *base;

	if (cfg == NULL)
		return NULL;
	event_config_set_flag(cfg, EVENT_BASE_FLAG_PRECISE_TIMER);
	base = event_base_new_with_config(cfg);
	event_config_free(cfg);
	return base;
}
