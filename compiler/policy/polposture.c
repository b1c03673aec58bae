/* polposture: a policy's device postures ("postures", "srcPosture",
 * "defaultSrcPosture"), loaded into the model and judged per node. */
#include "pol.h"

#include <stdlib.h>
#include <string.h>

static bool posture_name_valid(const char *name)
{
	return strncmp(name, "posture:", 8) == 0 && name[8] && inv_attr_key_valid(name);
}

/* One posture: "posture:NAME": [CONDITION, ...]. */
static bool load_posture(struct posture *ps, const struct hj_member *m, struct diag_list *diags)
{
	ps->name = strdup(m->key->u.str.s);
	ps->at = m->key;
	if (m->value->kind != HJ_ARRAY || m->value->u.arr.n == 0) {
		pol_error_at(diags, m->value, "posture %s must be a non-empty array of conditions", ps->name);
		return false;
	}
	ps->conds = calloc(m->value->u.arr.n, sizeof(*ps->conds));
	if (!ps->name || !ps->conds)
		return false;
	bool ok = true;
	for (size_t j = 0; j < m->value->u.arr.n; j++) {
		const struct hj_value *it = m->value->u.arr.items[j];
		if (it->kind != HJ_STRING) {
			pol_error_at(diags, it, "posture %s: a condition must be a string", ps->name);
			ok = false;
		} else if (posture_cond_parse(it, &ps->conds[ps->nconds], diags))
			ps->nconds++;
		else
			ok = false;
	}
	return ok;
}

bool pol_postures_load(struct pol_policy *p, const struct hj_value *v, struct diag_list *diags)
{
	if (!pol_want(v, HJ_OBJECT, "\"postures\"", diags))
		return false;
	p->postures = calloc(v->u.obj.n + 1, sizeof(*p->postures));
	if (!p->postures)
		return false;
	bool ok = true;
	for (size_t i = 0; i < v->u.obj.n; i++) {
		const struct hj_member *m = &v->u.obj.members[i];
		if (!posture_name_valid(m->key->u.str.s)) {
			pol_error_at(diags, m->key, "posture name \"%s\" must be posture:NAME", m->key->u.str.s);
			ok = false;
			continue;
		}
		ok &= load_posture(&p->postures[p->npostures++], m, diags);
	}
	return ok;
}

static const struct posture *find_posture(const struct pol_policy *p, const char *name)
{
	for (size_t i = 0; i < p->npostures; i++)
		if (strcmp(p->postures[i].name, name) == 0)
			return &p->postures[i];
	return NULL;
}

bool pol_posture_refs(const struct pol_policy *p, const struct hj_value *v, const struct posture ***out,
		      size_t *n, struct diag_list *diags)
{
	*out = NULL;
	*n = 0;
	if (v->kind != HJ_ARRAY) {
		pol_error_at(diags, v, "a posture list must be an array of \"posture:NAME\", not %s",
			     hj_kind_name(v->kind));
		return false;
	}
	*out = calloc(v->u.arr.n + 1, sizeof(**out));
	if (!*out)
		return false;
	bool ok = true;
	for (size_t i = 0; i < v->u.arr.n; i++) {
		const struct hj_value *it = v->u.arr.items[i];
		const struct posture *ps = it->kind == HJ_STRING ? find_posture(p, it->u.str.s) : NULL;
		if (ps) {
			(*out)[(*n)++] = ps;
			continue;
		}
		if (it->kind != HJ_STRING)
			pol_error_at(diags, it, "a posture list holds \"posture:NAME\" strings");
		else
			pol_error_at(diags, it, "unknown posture \"%s\": not defined in \"postures\"", it->u.str.s);
		ok = false;
	}
	return ok;
}

bool pol_rule_posture_holds(const struct pol_rule *r, const struct inv_attr *attrs, size_t nattrs)
{
	for (size_t i = 0; i < r->npostures; i++)
		if (posture_holds(r->postures[i], attrs, nattrs))
			return true;
	return r->npostures == 0;
}

void pol_postures_free(struct pol_policy *p)
{
	for (size_t i = 0; i < p->npostures; i++) {
		for (size_t j = 0; j < p->postures[i].nconds; j++)
			posture_cond_clear(&p->postures[i].conds[j]);
		free(p->postures[i].conds);
		free(p->postures[i].name);
	}
	free(p->postures);
	free(p->default_postures);
}
