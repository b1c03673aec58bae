/* inv_attr: the device posture attributes a node carries ("node:os",
 * "custom:NAME"), judged by the policy's postures. */
#include "inv.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "inv_int.h"

#define ATTR_NAME_CHARS "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-."

bool inv_attr_key_valid(const char *key)
{
	const char *colon = key ? strchr(key, ':') : NULL;
	if (!colon || colon == key || !colon[1])
		return false;
	size_t ns = (size_t)(colon - key);
	return strspn(key, ATTR_NAME_CHARS) == ns && strspn(colon + 1, ATTR_NAME_CHARS) == strlen(colon + 1);
}

const struct inv_attr *inv_node_attr(const struct inv_node *n, const char *key)
{
	for (size_t i = 0; i < n->nattrs; i++)
		if (strcmp(n->attrs[i].key, key) == 0)
			return &n->attrs[i];
	return NULL;
}

bool inv_attr_from_value(const struct hj_value *v, struct inv_attr *a)
{
	switch (v->kind) {
	case HJ_STRING:
		a->kind = INV_ATTR_STR;
		a->str = v->u.str.s;
		return true;
	case HJ_NUMBER:
		a->kind = INV_ATTR_NUM;
		a->num = strtod(v->u.str.s, NULL);
		return true;
	case HJ_TRUE:
	case HJ_FALSE:
		a->kind = INV_ATTR_BOOL;
		a->b = v->kind == HJ_TRUE;
		return true;
	default:
		return false;
	}
}

static void attr_clear(struct inv_attr *a)
{
	free(a->key);
	free(a->str);
}

int inv_node_set_attr(struct inv *inv, size_t node, const struct inv_attr *a)
{
	if (node >= inv->nnodes || !inv_attr_key_valid(a->key) ||
	    (a->kind == INV_ATTR_STR && !inv_text_clean(a->str)))
		return -EINVAL;
	struct inv_node *n = &inv->nodes[node];
	struct inv_attr copy = *a;
	copy.key = strdup(a->key);
	copy.str = a->kind == INV_ATTR_STR ? strdup(a->str) : NULL;
	if (!copy.key || (a->kind == INV_ATTR_STR && !copy.str))
		goto fail_copy;
	struct inv_attr *old = (struct inv_attr *)inv_node_attr(n, a->key);
	if (old) {
		attr_clear(old);
		*old = copy;
		return 0;
	}
	struct inv_attr *grown = realloc(n->attrs, (n->nattrs + 1) * sizeof(*grown));
	if (!grown)
		goto fail_copy;
	n->attrs = grown;
	n->attrs[n->nattrs++] = copy;
	return 0;
fail_copy:
	attr_clear(&copy);
	return -ENOMEM;
}

void inv_attrs_free(struct inv_node *n)
{
	for (size_t i = 0; i < n->nattrs; i++)
		attr_clear(&n->attrs[i]);
	free(n->attrs);
	n->attrs = NULL;
	n->nattrs = 0;
}
