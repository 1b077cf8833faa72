/* dest_extrahop: ExtraHop's PATCH as a push destination; see dest_extrahop.h. */
#include "ticketsync/dest_extrahop.h"

#include "ticketsync/pushplan.h"
#include "ticketsync/store.h"

/* One of the item's values as fields; NULL value: none (*present false). */
static bool
dest_extrahop_value(const bson_t *value, const char *what, fields_t *out, bool *present,
    bson_error_t *err)
{
	bson_error_t why;

	*present = value != NULL;
	if (value == NULL)
		return true;
	if (fields_from_document(value, out, &why))
		return true;
	bson_set_error(err, ERROR_DOMAIN, STORE_ERR_CORRUPT, "%s: %s", what, why.message);
	return false;
}

bool
dest_extrahop_decode(const outbox_item_t *item, fields_t *desired, unsigned *mask,
    bson_error_t *err)
{
	fields_t pushed, base;
	bool has_desired, has_pushed, has_base;

	if (!dest_extrahop_value(item->desired, "desired", desired, &has_desired, err) ||
	    !dest_extrahop_value(item->pushed, "pushed", &pushed, &has_pushed, err) ||
	    !dest_extrahop_value(item->baseline, "baseline", &base, &has_base, err))
		return false;
	if (!has_desired) {
		bson_set_error(err, ERROR_DOMAIN, STORE_ERR_CORRUPT, "no desired fields");
		return false;
	}
	*mask = pushplan_claim_mask(desired, has_pushed ? &pushed : NULL, has_base ? &base : NULL,
	    item->force_full);
	return true;
}

static bool
dest_extrahop_describe(const outbox_item_t *item, bson_t *sent, bson_error_t *err)
{
	fields_t desired;
	unsigned mask;

	if (!dest_extrahop_decode(item, &desired, &mask, err))
		return false;
	fields_append_members(sent, &desired, mask);
	return true;
}

static int
dest_extrahop_send(void *impl, const outbox_item_t *item, dest_done_fn done, void *arg,
    bson_error_t *err)
{
	fields_t desired;
	unsigned mask;

	if (!dest_extrahop_decode(item, &desired, &mask, err))
		return -1;
	return extrahop_patch_detection(impl, item->id, &desired, mask, item->claimed_until_ms, done,
	    arg, err);
}

static void
dest_extrahop_cancel_all(void *impl)
{
	extrahop_cancel_all(impl);
}

static void
dest_extrahop_set_gate(void *impl, bool (*gate)(const void *arg), const void *arg)
{
	extrahop_set_gate(impl, gate, arg);
}

static const dest_ops_t dest_extrahop_ops = {
	.display_name = "ExtraHop",
	.auth_hint = "check [extrahop] api_key (or the OAuth2 client) and that the key's user "
	             "may edit detections with ticket tracking enabled",
	.describe = dest_extrahop_describe,
	.send = dest_extrahop_send,
	.cancel_all = dest_extrahop_cancel_all,
	.set_gate = dest_extrahop_set_gate,
};

dest_t
dest_extrahop(extrahop_t *eh)
{
	return (dest_t){ .ops = &dest_extrahop_ops, .impl = eh };
}
