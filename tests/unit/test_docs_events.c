/*
 * The audit events the docs list (docs/OPERATIONS.md "Events:", docs/TOOLS.md's
 * `--event NAME`) are exactly the ones ticketsync writes (audit_event_names).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <mongoc/mongoc.h>

#include "ticketsync/audit.h"
#include "tsfile.h"

/* The backquoted words of doc from the first occurrence of start up to the next
 * full stop or ')' that ends the list, joined by ","; every one must be known, and
 * every known event must be among them. */
static void
check_list(const char *path, const char *start)
{
	char *doc = tsfile_read_source(path, NULL);
	char names[2048], listed[2048] = ",";
	const char *p, *end;

	assert_non_null(doc);
	p = strstr(doc, start);
	if (p == NULL)
		fail_msg("%s: no \"%s\"", path, start);
	p += strlen(start);
	end = strstr(p, "); another name");
	if (end == NULL)
		end = strstr(p, ". The audit queries");
	if (end == NULL)
		fail_msg("%s: the list after \"%s\" has no end", path, start);
	while ((p = strchr(p, '`')) != NULL && p < end) {
		const char *q = strchr(p + 1, '`');
		char word[AUDIT_EVENT_MAX];

		if (q == NULL || (size_t)(q - p - 1) >= sizeof(word))
			break;
		memcpy(word, p + 1, (size_t)(q - p - 1));
		word[q - p - 1] = '\0';
		if (!audit_event_known(word))
			fail_msg("%s lists \"%s\", which is not an audit event", path, word);
		strcat(listed, word);
		strcat(listed, ",");
		p = q + 1;
	}
	audit_event_names(names, sizeof(names));
	for (char *save = NULL, *n = strtok_r(names, ", ", &save); n != NULL;
	     n = strtok_r(NULL, ", ", &save)) {
		char key[AUDIT_EVENT_MAX + 2];

		snprintf(key, sizeof(key), ",%s,", n);
		if (strstr(listed, key) == NULL)
			fail_msg("%s does not list the audit event \"%s\"", path, n);
	}
	free(doc);
}

static void
test_operations_lists_every_event(void **state)
{
	(void)state;
	check_list("docs/OPERATIONS.md", "`detail`. Events: ");
}

static void
test_tools_lists_every_event(void **state)
{
	(void)state;
	check_list("docs/TOOLS.md", "`--event NAME` takes one of the events ticketsync writes (");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_operations_lists_every_event),
		cmocka_unit_test(test_tools_lists_every_event),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
