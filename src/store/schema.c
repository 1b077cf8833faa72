/* schema: make a database match schema/<collection>.json; see schema.h. */
#include "ticketsync/schema.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ticketsync/jsonerr.h"
#include "ticketsync/mongoerr.h"
#include "ticketsync/store.h"


const char *const schema_service_collections[] = {
	STORE_COLL_STATE,
	STORE_COLL_CREATE_STATE,
	STORE_COLL_AUDIT,
	STORE_COLL_CHECKPOINTS,
	STORE_COLL_LEASES,
	NULL,
};

/* ---- plan ---- */

void
schema_plan_init(schema_plan_t *plan)
{
	memset(plan, 0, sizeof(*plan));
}

void
schema_plan_destroy(schema_plan_t *plan)
{
	if (plan == NULL)
		return;
	for (size_t i = 0; i < plan->n; i++)
		bson_free(plan->lines[i]);
	bson_free(plan->lines);
	memset(plan, 0, sizeof(*plan));
}

static void schema_plan_add(schema_plan_t *plan, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
schema_plan_add(schema_plan_t *plan, const char *fmt, ...)
{
	va_list ap;

	if (plan == NULL)
		return;
	if (plan->n == plan->cap) {
		plan->cap = plan->cap ? plan->cap * 2 : 8;
		plan->lines = bson_realloc(plan->lines, plan->cap * sizeof(*plan->lines));
	}
	va_start(ap, fmt);
	plan->lines[plan->n++] = bson_strdupv_printf(fmt, ap);
	va_end(ap);
}

/* ---- spec ---- */

static void
schema_spec_zero(schema_spec_t *spec)
{
	memset(spec, 0, sizeof(*spec));
	bson_init(&spec->validator);
	bson_init(&spec->indexes);
}

void
schema_spec_destroy(schema_spec_t *spec)
{
	if (spec == NULL)
		return;
	bson_destroy(&spec->validator);
	bson_destroy(&spec->indexes);
}

static bool
schema_copy_string(const bson_t *doc, const char *key, char *dst, size_t dstlen,
    bson_error_t *err)
{
	bson_iter_t it;
	uint32_t len;
	const char *s;

	if (!bson_iter_init_find(&it, doc, key) || !BSON_ITER_HOLDS_UTF8(&it)) {
		bson_set_error(err, ERROR_DOMAIN, STORE_ERR_ARG, "schema: \"%s\" must be a string",
		    key);
		return false;
	}
	s = bson_iter_utf8(&it, &len);
	if (len == 0 || len >= dstlen) {
		bson_set_error(err, ERROR_DOMAIN, STORE_ERR_ARG,
		    "schema: \"%s\" must be 1..%zu bytes", key, dstlen - 1);
		return false;
	}
	memcpy(dst, s, len + 1);
	return true;
}

static bool
schema_sub_document(const bson_iter_t *it, bson_t *out)
{
	const uint8_t *data;
	uint32_t len;

	if (!BSON_ITER_HOLDS_DOCUMENT(it) && !BSON_ITER_HOLDS_ARRAY(it))
		return false;
	if (BSON_ITER_HOLDS_DOCUMENT(it))
		bson_iter_document(it, &len, &data);
	else
		bson_iter_array(it, &len, &data);
	return bson_init_static(out, data, len);
}

static bool
schema_check_index(const bson_t *index, const char *collection, bson_error_t *err)
{
	bson_iter_t it;
	bool has_name = false, has_key = false;

	bson_iter_init(&it, index);
	while (bson_iter_next(&it)) {
		const char *k = bson_iter_key(&it);

		if (strcmp(k, "name") == 0 && BSON_ITER_HOLDS_UTF8(&it)) {
			has_name = true;
		} else if (strcmp(k, "key") == 0 && BSON_ITER_HOLDS_DOCUMENT(&it)) {
			bson_t key;

			has_key = schema_sub_document(&it, &key) && !bson_empty(&key);
		} else if (strcmp(k, "unique") == 0 && BSON_ITER_HOLDS_BOOL(&it)) {
		} else if (strcmp(k, "partialFilterExpression") == 0 &&
		    BSON_ITER_HOLDS_DOCUMENT(&it)) {
		} else {
			/* Only options schema_index_same compares are allowed, so a second
			 * run can always tell the index is already right. */
			bson_set_error(err, ERROR_DOMAIN, STORE_ERR_ARG,
			    "schema %s: index option \"%s\" is not supported (or has the wrong type)",
			    collection, k);
			return false;
		}
	}
	if (!has_name || !has_key) {
		bson_set_error(err, ERROR_DOMAIN, STORE_ERR_ARG,
		    "schema %s: every index needs a \"name\" string and a non-empty \"key\"",
		    collection);
		return false;
	}
	return true;
}

bool
schema_spec_parse(const char *json, schema_spec_t *spec, bson_error_t *err)
{
	bson_t doc = BSON_INITIALIZER;
	bson_t sub;
	bson_iter_t it;
	bool ok = false;

	schema_spec_zero(spec);
	bson_destroy(&doc);
	if (json == NULL || !bson_init_from_json(&doc, json, -1, err)) {
		char why[JSONERR_MAX];

		if (json == NULL) {
			bson_set_error(err, ERROR_DOMAIN, STORE_ERR_ARG, "schema: no JSON");
		} else {
			jsonerr_explain(json, strlen(json), err->message, why, sizeof(why));
			bson_set_error(err, ERROR_DOMAIN, STORE_ERR_ARG, "schema: not valid JSON: %s",
			    why);
		}
		bson_init(&doc);
		goto cleanup;
	}
	if (!schema_copy_string(&doc, "collection", spec->name, sizeof(spec->name), err) ||
	    !schema_copy_string(&doc, "validationLevel", spec->validation_level,
	        sizeof(spec->validation_level), err) ||
	    !schema_copy_string(&doc, "validationAction", spec->validation_action,
	        sizeof(spec->validation_action), err))
		goto cleanup;
	if (strcmp(spec->validation_action, "error") != 0 &&
	    strcmp(spec->validation_action, "warn") != 0) {
		bson_set_error(err, ERROR_DOMAIN, STORE_ERR_ARG,
		    "schema %s: validationAction must be \"error\" or \"warn\"", spec->name);
		goto cleanup;
	}
	if (strcmp(spec->validation_level, "strict") != 0 &&
	    strcmp(spec->validation_level, "moderate") != 0 &&
	    strcmp(spec->validation_level, "off") != 0) {
		bson_set_error(err, ERROR_DOMAIN, STORE_ERR_ARG,
		    "schema %s: validationLevel must be strict, moderate or off", spec->name);
		goto cleanup;
	}
	if (!bson_iter_init_find(&it, &doc, "validator") || !BSON_ITER_HOLDS_DOCUMENT(&it) ||
	    !schema_sub_document(&it, &sub) || bson_empty(&sub)) {
		bson_set_error(err, ERROR_DOMAIN, STORE_ERR_ARG,
		    "schema %s: \"validator\" must be a non-empty document", spec->name);
		goto cleanup;
	}
	bson_destroy(&spec->validator);
	bson_copy_to(&sub, &spec->validator);
	if (!bson_iter_init_find(&it, &doc, "indexes") || !BSON_ITER_HOLDS_ARRAY(&it) ||
	    !schema_sub_document(&it, &sub)) {
		bson_set_error(err, ERROR_DOMAIN, STORE_ERR_ARG,
		    "schema %s: \"indexes\" must be an array", spec->name);
		goto cleanup;
	}
	bson_destroy(&spec->indexes);
	bson_copy_to(&sub, &spec->indexes);
	bson_iter_init(&it, &spec->indexes);
	while (bson_iter_next(&it)) {
		bson_t index;

		if (!BSON_ITER_HOLDS_DOCUMENT(&it) || !schema_sub_document(&it, &index)) {
			bson_set_error(err, ERROR_DOMAIN, STORE_ERR_ARG,
			    "schema %s: every index must be a document", spec->name);
			goto cleanup;
		}
		if (!schema_check_index(&index, spec->name, err))
			goto cleanup;
	}
	ok = true;
cleanup:
	bson_destroy(&doc);
	return ok;
}

bool
schema_spec_load(const char *collection, schema_spec_t *spec, bson_error_t *err)
{
	for (size_t i = 0; i < schema_embedded_count; i++) {
		if (strcmp(schema_embedded_names[i], collection) != 0)
			continue;
		if (!schema_spec_parse(schema_embedded_json[i], spec, err))
			return false;
		if (strcmp(spec->name, collection) != 0) {
			bson_set_error(err, ERROR_DOMAIN, STORE_ERR_ARG,
			    "schema/%s.json names collection \"%s\"", collection, spec->name);
			return false;
		}
		return true;
	}
	schema_spec_zero(spec);
	bson_set_error(err, ERROR_DOMAIN, STORE_ERR_ARG,
	    "no schema for collection \"%s\"", collection);
	return false;
}

/* ---- index comparison (pure) ---- */

static bool
schema_number(const bson_iter_t *it, double *out)
{
	switch (bson_iter_type(it)) {
	case BSON_TYPE_INT32:
	case BSON_TYPE_INT64:
	case BSON_TYPE_DOUBLE:
		*out = bson_iter_as_double(it);
		return true;
	default:
		return false;
	}
}

/* Key patterns: same fields in the same order; directions equal by value (servers
 * may hand back 1 as int32, int64 or double); string kinds ("text", "hashed") equal. */
static bool
schema_key_same(const bson_t *a, const bson_t *b)
{
	bson_iter_t ia, ib;

	if (!bson_iter_init(&ia, a) || !bson_iter_init(&ib, b))
		return false;
	for (;;) {
		bool na = bson_iter_next(&ia), nb = bson_iter_next(&ib);
		double da, db;

		if (!na || !nb)
			return na == nb;
		if (strcmp(bson_iter_key(&ia), bson_iter_key(&ib)) != 0)
			return false;
		if (schema_number(&ia, &da) && schema_number(&ib, &db)) {
			if (da != db)
				return false;
		} else if (BSON_ITER_HOLDS_UTF8(&ia) && BSON_ITER_HOLDS_UTF8(&ib)) {
			if (strcmp(bson_iter_utf8(&ia, NULL), bson_iter_utf8(&ib, NULL)) != 0)
				return false;
		} else {
			return false;
		}
	}
}

static bool
schema_index_flag(const bson_t *index, const char *key)
{
	bson_iter_t it;

	return bson_iter_init_find(&it, index, key) && bson_iter_as_bool(&it);
}

static bool
schema_index_sub(const bson_t *index, const char *key, bson_t *out)
{
	bson_iter_t it;

	return bson_iter_init_find(&it, index, key) && BSON_ITER_HOLDS_DOCUMENT(&it) &&
	    schema_sub_document(&it, out);
}

bool
schema_index_same(const bson_t *existing, const bson_t *wanted)
{
	bson_t ka, kb, pa, pb;
	bool has_pa, has_pb;

	if (!schema_index_sub(existing, "key", &ka) || !schema_index_sub(wanted, "key", &kb))
		return false;
	if (!schema_key_same(&ka, &kb))
		return false;
	if (schema_index_flag(existing, "unique") != schema_index_flag(wanted, "unique"))
		return false;
	has_pa = schema_index_sub(existing, "partialFilterExpression", &pa);
	has_pb = schema_index_sub(wanted, "partialFilterExpression", &pb);
	if (has_pa != has_pb)
		return false;
	return !has_pa || bson_equal(&pa, &pb);
}

/* ---- ensure ---- */

static const char *
schema_index_name(const bson_t *index)
{
	bson_iter_t it;

	if (bson_iter_init_find(&it, index, "name") && BSON_ITER_HOLDS_UTF8(&it))
		return bson_iter_utf8(&it, NULL);
	return "";
}

/* Human form of an index for the plan and errors: "{ "state" : 1, ... }". */
static char *
schema_index_describe(const bson_t *index)
{
	bson_t key;
	bson_t partial;
	char *k, *p, *s;

	if (!schema_index_sub(index, "key", &key))
		return bson_strdup("(no key)");
	k = bson_as_relaxed_extended_json(&key, NULL);
	if (schema_index_sub(index, "partialFilterExpression", &partial)) {
		p = bson_as_relaxed_extended_json(&partial, NULL);
		s = bson_strdup_printf("%s%s partial %s", k,
		    schema_index_flag(index, "unique") ? " unique" : "", p);
		bson_free(p);
	} else {
		s = bson_strdup_printf("%s%s", k, schema_index_flag(index, "unique") ? " unique" : "");
	}
	bson_free(k);
	return s;
}

/* listCollections entry for name: *found, and a copy of its options. */
static bool
schema_collection_info(mongoc_database_t *database, const char *name, bool *found,
    bson_t *options, bson_error_t *err)
{
	mongoc_cursor_t *cursor = NULL;
	const bson_t *doc;
	bson_t opts = BSON_INITIALIZER;
	bson_t filter;
	bson_iter_t it;
	bson_t sub;
	bool ok = false;

	*found = false;
	BSON_APPEND_DOCUMENT_BEGIN(&opts, "filter", &filter);
	BSON_APPEND_UTF8(&filter, "name", name);
	bson_append_document_end(&opts, &filter);
	cursor = mongoc_database_find_collections_with_opts(database, &opts);
	while (mongoc_cursor_next(cursor, &doc)) {
		if (!bson_iter_init_find(&it, doc, "name") || !BSON_ITER_HOLDS_UTF8(&it) ||
		    strcmp(bson_iter_utf8(&it, NULL), name) != 0)
			continue;
		if (bson_iter_init_find(&it, doc, "type") && BSON_ITER_HOLDS_UTF8(&it) &&
		    strcmp(bson_iter_utf8(&it, NULL), "collection") != 0) {
			bson_set_error(err, ERROR_DOMAIN, STORE_ERR_DEPLOYMENT,
			    "%s is a %s, not a collection", name, bson_iter_utf8(&it, NULL));
			goto cleanup;
		}
		*found = true;
		if (bson_iter_init_find(&it, doc, "options") && schema_sub_document(&it, &sub))
			bson_concat(options, &sub);
	}
	if (mongoc_cursor_error(cursor, err))
		goto cleanup;
	ok = true;
cleanup:
	mongoc_cursor_destroy(cursor);
	bson_destroy(&opts);
	return ok;
}

static const char *
schema_option_string(const bson_t *options, const char *key, const char *dflt)
{
	bson_iter_t it;

	if (bson_iter_init_find(&it, options, key) && BSON_ITER_HOLDS_UTF8(&it))
		return bson_iter_utf8(&it, NULL);
	return dflt;
}

static void
schema_append_validation(bson_t *cmd, const schema_spec_t *spec)
{
	BSON_APPEND_DOCUMENT(cmd, "validator", &spec->validator);
	BSON_APPEND_UTF8(cmd, "validationLevel", spec->validation_level);
	BSON_APPEND_UTF8(cmd, "validationAction", spec->validation_action);
}

static bool
schema_ensure_validator(mongoc_database_t *database, const char *db, const schema_spec_t *spec,
    const bson_t *options, bool dry_run, schema_plan_t *plan, bson_error_t *err)
{
	bson_t have = BSON_INITIALIZER;
	bson_t cmd = BSON_INITIALIZER;
	bson_t reply = BSON_INITIALIZER;
	bson_iter_t it;
	bson_t sub;
	const char *level = schema_option_string(options, "validationLevel", "strict");
	const char *action = schema_option_string(options, "validationAction", "error");
	bool same_validator, ok = false;

	if (bson_iter_init_find(&it, options, "validator") && schema_sub_document(&it, &sub))
		bson_concat(&have, &sub);
	/* The server hands the validator back as it was given, so a byte comparison
	 * tells whether someone (or an older release) changed it. */
	same_validator = bson_equal(&have, &spec->validator);
	if (same_validator && strcmp(level, spec->validation_level) == 0 &&
	    strcmp(action, spec->validation_action) == 0) {
		ok = true;
		goto cleanup;
	}
	schema_plan_add(plan, "%s validator of %s.%s (%svalidationAction %s -> %s, "
	    "validationLevel %s -> %s)", bson_empty(&have) ? "add" : "update", db, spec->name,
	    same_validator ? "" : "$jsonSchema changed; ", action, spec->validation_action,
	    level, spec->validation_level);
	if (dry_run) {
		ok = true;
		goto cleanup;
	}
	BSON_APPEND_UTF8(&cmd, "collMod", spec->name);
	schema_append_validation(&cmd, spec);
	ok = mongoc_database_write_command_with_opts(database, &cmd, NULL, &reply, err);
cleanup:
	bson_destroy(&have);
	bson_destroy(&cmd);
	bson_destroy(&reply);
	return ok;
}

static bool
schema_list_indexes(mongoc_collection_t *coll, bson_t *out_array, bson_error_t *err)
{
	mongoc_cursor_t *cursor = mongoc_collection_find_indexes_with_opts(coll, NULL);
	const bson_t *doc;
	uint32_t i = 0;
	bool ok;

	while (mongoc_cursor_next(cursor, &doc)) {
		char k[16];
		const char *key;

		bson_uint32_to_string(i++, &key, k, sizeof(k));
		bson_append_document(out_array, key, -1, doc);
	}
	ok = !mongoc_cursor_error(cursor, err);
	mongoc_cursor_destroy(cursor);
	return ok;
}

static bool
schema_ensure_indexes(mongoc_database_t *database, const char *db, const schema_spec_t *spec,
    bool exists, bool dry_run, schema_plan_t *plan, bson_error_t *err)
{
	mongoc_collection_t *coll = NULL;
	bson_t have = BSON_INITIALIZER;
	bson_t cmd = BSON_INITIALIZER;
	bson_t reply = BSON_INITIALIZER;
	bson_t list;
	bson_iter_t want_it;
	uint32_t n_create = 0;
	bool ok = false;

	coll = mongoc_database_get_collection(database, spec->name);
	if (exists && !schema_list_indexes(coll, &have, err))
		goto cleanup;
	BSON_APPEND_UTF8(&cmd, "createIndexes", spec->name);
	BSON_APPEND_ARRAY_BEGIN(&cmd, "indexes", &list);
	bson_iter_init(&want_it, &spec->indexes);
	while (bson_iter_next(&want_it)) {
		bson_t want, cur;
		bson_iter_t have_it;
		bool satisfied = false;
		char *desc;

		schema_sub_document(&want_it, &want);
		bson_iter_init(&have_it, &have);
		while (bson_iter_next(&have_it)) {
			schema_sub_document(&have_it, &cur);
			if (strcmp(schema_index_name(&cur), schema_index_name(&want)) == 0) {
				if (!schema_index_same(&cur, &want)) {
					char *have_desc = schema_index_describe(&cur);

					desc = schema_index_describe(&want);
					bson_set_error(err, ERROR_DOMAIN, STORE_ERR_DEPLOYMENT,
					    "index %s on %s.%s is %s but ticketsync needs %s; drop it "
					    "(db.%s.dropIndex(\"%s\")) and run init again",
					    schema_index_name(&cur), db, spec->name, have_desc, desc,
					    spec->name, schema_index_name(&cur));
					bson_free(have_desc);
					bson_free(desc);
					bson_append_array_end(&cmd, &list);
					goto cleanup;
				}
				satisfied = true;
				break;
			}
			/* The same index under another name serves as well; creating ours
			 * would fail with IndexOptionsConflict. */
			if (schema_index_same(&cur, &want)) {
				satisfied = true;
				break;
			}
		}
		if (satisfied)
			continue;
		desc = schema_index_describe(&want);
		schema_plan_add(plan, "create index %s on %s.%s %s", schema_index_name(&want), db,
		    spec->name, desc);
		bson_free(desc);
		{
			char k[16];
			const char *key;

			bson_uint32_to_string(n_create++, &key, k, sizeof(k));
			bson_append_document(&list, key, -1, &want);
		}
	}
	bson_append_array_end(&cmd, &list);
	if (n_create == 0 || dry_run) {
		ok = true;
		goto cleanup;
	}
	/* createIndexes is idempotent, so a concurrent init doing the same is harmless. */
	ok = mongoc_database_write_command_with_opts(database, &cmd, NULL, &reply, err);
cleanup:
	mongoc_collection_destroy(coll);
	bson_destroy(&have);
	bson_destroy(&cmd);
	bson_destroy(&reply);
	return ok;
}

static bool
schema_ensure_one(mongoc_database_t *database, const char *db, const schema_spec_t *spec,
    bool dry_run, schema_plan_t *plan, bson_error_t *err)
{
	bson_t options = BSON_INITIALIZER;
	bson_t create_opts = BSON_INITIALIZER;
	mongoc_collection_t *created = NULL;
	bool exists, ok = false;

	if (!schema_collection_info(database, spec->name, &exists, &options, err))
		goto cleanup;
	if (!exists) {
		schema_plan_add(plan, "create collection %s.%s (validationAction %s, "
		    "validationLevel %s)", db, spec->name, spec->validation_action,
		    spec->validation_level);
		if (dry_run) {
			ok = schema_ensure_indexes(database, db, spec, false, true, plan, err);
			goto cleanup;
		}
		schema_append_validation(&create_opts, spec);
		created = mongoc_database_create_collection(database, spec->name, &create_opts, err);
		if (created == NULL) {
			if (err->code != MONGOERR_NAMESPACE_EXISTS)
				goto cleanup;
			/* Another init won the race: check what it made like any other. */
			bson_reinit(&options);
			if (!schema_collection_info(database, spec->name, &exists, &options, err))
				goto cleanup;
			if (!schema_ensure_validator(database, db, spec, &options, dry_run, plan, err))
				goto cleanup;
		}
	} else if (!schema_ensure_validator(database, db, spec, &options, dry_run, plan, err)) {
		goto cleanup;
	}
	ok = schema_ensure_indexes(database, db, spec, true, dry_run, plan, err);
cleanup:
	mongoc_collection_destroy(created);
	bson_destroy(&options);
	bson_destroy(&create_opts);
	return ok;
}

bool
schema_ensure(mongoc_client_t *client, const char *db, const char *const *collections,
    bool dry_run, schema_plan_t *plan_out, bson_error_t *err)
{
	mongoc_database_t *database = NULL;
	const char *const *names = collections ? collections : schema_embedded_names;
	bool ok = false;

	if (!store_db_name_valid(db, err))
		return false;
	database = mongoc_client_get_database(client, db);
	for (size_t i = 0; names[i] != NULL; i++) {
		schema_spec_t spec;
		bool one;

		if (!schema_spec_load(names[i], &spec, err)) {
			schema_spec_destroy(&spec);
			goto cleanup;
		}
		one = schema_ensure_one(database, db, &spec, dry_run, plan_out, err);
		schema_spec_destroy(&spec);
		if (!one)
			goto cleanup;
	}
	ok = true;
cleanup:
	mongoc_database_destroy(database);
	return ok;
}

/* ---- deployment ---- */

bool
schema_parse_version(const char *version, int *major, int *minor)
{
	char *end;
	long ma, mi;

	if (version == NULL)
		return false;
	ma = strtol(version, &end, 10);
	if (end == version || *end != '.' || ma < 0 || ma > 1000)
		return false;
	version = end + 1;
	mi = strtol(version, &end, 10);
	if (end == version || mi < 0 || mi > 1000)
		return false;
	*major = (int)ma;
	*minor = (int)mi;
	return true;
}

bool
schema_check_deployment(mongoc_client_t *client, schema_deployment_t *info_out,
    bson_error_t *err)
{
	schema_deployment_t info;
	bson_t cmd = BSON_INITIALIZER;
	bson_t reply = BSON_INITIALIZER;
	bson_iter_t it;
	bool ok = false;

	memset(&info, 0, sizeof(info));
	BSON_APPEND_INT32(&cmd, "hello", 1);
	if (!mongoc_client_command_simple(client, "admin", &cmd, NULL, &reply, err)) {
		if (err->code != MONGOERR_COMMAND_NOT_FOUND)
			goto cleanup;
		/* Servers before 4.4.2 / 5.0 know only isMaster. */
		bson_reinit(&cmd);
		bson_destroy(&reply);
		BSON_APPEND_INT32(&cmd, "isMaster", 1);
		if (!mongoc_client_command_simple(client, "admin", &cmd, NULL, &reply, err))
			goto cleanup;
	}
	if (bson_iter_init_find(&it, &reply, "setName") && BSON_ITER_HOLDS_UTF8(&it)) {
		info.replica_set = true;
		bson_strncpy(info.set_name, bson_iter_utf8(&it, NULL), sizeof(info.set_name));
	}
	if (bson_iter_init_find(&it, &reply, "msg") && BSON_ITER_HOLDS_UTF8(&it) &&
	    strcmp(bson_iter_utf8(&it, NULL), "isdbgrid") == 0)
		info.sharded = true;
	if (bson_iter_init_find(&it, &reply, "maxWireVersion") && BSON_ITER_HOLDS_INT(&it))
		info.max_wire_version = (int)bson_iter_as_int64(&it);
	bson_destroy(&reply);
	bson_reinit(&cmd);
	BSON_APPEND_INT32(&cmd, "buildInfo", 1);
	if (!mongoc_client_command_simple(client, "admin", &cmd, NULL, &reply, err))
		goto cleanup;
	if (!bson_iter_init_find(&it, &reply, "version") || !BSON_ITER_HOLDS_UTF8(&it) ||
	    !schema_parse_version(bson_iter_utf8(&it, NULL), &info.major, &info.minor)) {
		bson_set_error(err, ERROR_DOMAIN, STORE_ERR_DEPLOYMENT,
		    "buildInfo did not report a server version");
		goto cleanup;
	}
	bson_strncpy(info.version, bson_iter_utf8(&it, NULL), sizeof(info.version));
	if (!info.replica_set && !info.sharded) {
		bson_set_error(err, ERROR_DOMAIN, STORE_ERR_DEPLOYMENT,
		    "MongoDB %s is a standalone server: change streams need a replica set or a "
		    "sharded cluster (one member is enough: start mongod with --replSet rs0, run "
		    "rs.initiate(), and add ?replicaSet=rs0 to the URI)", info.version);
		goto cleanup;
	}
	if (info.major < SCHEMA_MIN_SERVER_MAJOR ||
	    (info.major == SCHEMA_MIN_SERVER_MAJOR && info.minor < SCHEMA_MIN_SERVER_MINOR)) {
		bson_set_error(err, ERROR_DOMAIN, STORE_ERR_DEPLOYMENT,
		    "MongoDB %s is too old: ticketsync needs %d.%d or newer", info.version,
		    SCHEMA_MIN_SERVER_MAJOR, SCHEMA_MIN_SERVER_MINOR);
		goto cleanup;
	}
	ok = true;
cleanup:
	if (info_out != NULL)
		*info_out = info;
	bson_destroy(&cmd);
	bson_destroy(&reply);
	return ok;
}
