/* polkey: top-level keys matched ignoring case, as Go's decoder does. */
#include "polkey.h"

#include <strings.h>
#include <string.h>

/* Every section of Tailscale's policy file. */
static const char *const sections[] = {
	"acls", "grants", "groups", "hosts", "tagOwners", "ipsets", "autoApprovers", "tests",
	"ssh", "sshTests", "nodeAttrs", "postures", "defaultSrcPosture", "derpMap", "disableIPv4",
	"randomizeClientPort", "OneCGNATRoute", "attrConfig", "autogroups",
};

/* Does string node KEY spell NAME, ignoring ASCII case?  A key holding a
 * NUL spells nothing. */
static bool spells(const struct hj_value *key, const char *name)
{
	size_t len = strlen(name);
	return key->kind == HJ_STRING && key->u.str.len == len && strncasecmp(key->u.str.s, name, len) == 0;
}

const char *polkey_section(const struct hj_value *key)
{
	for (size_t i = 0; i < sizeof(sections) / sizeof(sections[0]); i++)
		if (spells(key, sections[i]))
			return sections[i];
	return NULL;
}

const char *polkey_field(const struct hj_value *key, const char *const *names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (spells(key, names[i]))
			return names[i];
	return key->u.str.s;
}

const struct hj_value *polkey_get(const struct hj_value *root, const char *name)
{
	for (size_t i = 0; root->kind == HJ_OBJECT && i < root->u.obj.n; i++)
		if (spells(root->u.obj.members[i].key, name))
			return root->u.obj.members[i].value;
	return NULL;
}

bool polkey_first(const struct hj_value *root, size_t i)
{
	const char *sec = polkey_section(root->u.obj.members[i].key);
	return !sec || polkey_get(root, sec) == root->u.obj.members[i].value;
}

size_t polkey_duplicates(const struct hj_value *root, struct diag_list *diags)
{
	size_t n = 0;
	for (size_t i = 0; root->kind == HJ_OBJECT && i < root->u.obj.n; i++) {
		const struct hj_value *key = root->u.obj.members[i].key;
		const char *sec = polkey_section(key);
		for (size_t j = 0; sec && j < i; j++) {
			const struct hj_value *earlier = root->u.obj.members[j].key;
			if (polkey_section(earlier) != sec)
				continue;
			diag_error(diags, &key->loc, "\"%s\" repeats section \"%s\" (line %u): keys are matched "
				   "ignoring case", key->u.str.s, earlier->u.str.s, earlier->loc.line);
			n++;
			break;
		}
	}
	return n;
}
