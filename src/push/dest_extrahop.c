/* dest_extrahop: ExtraHop's PATCH as a push destination; see dest_extrahop.h. */
#include "ticketsync/dest_extrahop.h"

static int
dest_extrahop_send(void *impl, const outbox_item_t *item, dest_done_fn done, void *arg,
    bson_error_t *err)
{
	return extrahop_patch_detection(impl, item->id, &item->desired, item->mask, done, arg,
	    err);
}

static void
dest_extrahop_cancel_all(void *impl)
{
	extrahop_cancel_all(impl);
}

static const dest_ops_t dest_extrahop_ops = {
	.display_name = "ExtraHop",
	.auth_hint = "check [extrahop] api_key (or the OAuth2 client) and that the key's user "
	             "may edit detections with ticket tracking enabled",
	.send = dest_extrahop_send,
	.cancel_all = dest_extrahop_cancel_all,
};

dest_t
dest_extrahop(extrahop_t *eh)
{
	return (dest_t){ .ops = &dest_extrahop_ops, .impl = eh };
}
