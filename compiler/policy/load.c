/* load: policy and inventory, from files or memory, to compiled filters. */
#include "load.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct load *load_new(void)
{
	return calloc(1, sizeof(struct load));
}

void load_free(struct load *l)
{
	if (!l)
		return;
	if (l->compiled)
		filter_set_free(&l->fs);
	inv_free(l->inv);
	pol_free(l->pol);
	hj_free(l->root);
	diag_src_free(l->inv_src);
	diag_src_free(l->src);
	free(l);
}

static struct diag_src *src_open(const struct load_src *s, struct diag_list *diags)
{
	struct diag_src *src;
	if (!s->text)
		return diag_src_load(s->name, diags);
	if (!(src = diag_src_from_mem(s->name, s->text, s->len)))
		diag_error(diags, NULL, "%s: %s", s->name, strerror(ENOMEM));
	return src;
}

int load_policy(struct load *l, const struct load_src *src, struct diag_list *diags)
{
	if (!(l->src = src_open(src, diags)))
		return -ENOENT;
	if (!(l->root = hj_parse(l->src, diags)))
		return -EINVAL;
	if (!(l->pol = pol_load(l->root, diags)))
		return -EINVAL;
	return 0;
}

int load_inventory(struct load *l, const struct load_src *src, struct diag_list *diags)
{
	if (l->inv)
		return -EBUSY;
	l->have_inv = true;
	if (!(l->inv_src = src_open(src, diags)))
		return -ENOENT;
	if (!(l->inv = inv_read(l->inv_src, diags)))
		return -EINVAL;
	return 0;
}

int load_inventory_take(struct load *l, struct inv *inv)
{
	if (l->inv) {
		inv_free(inv);
		return -EBUSY;
	}
	l->inv = inv;
	l->have_inv = true;
	return 0;
}

int load_compile(struct load *l, struct diag_list *diags)
{
	if (!l->pol || (l->have_inv && !l->inv))
		return -EINVAL;
	if (!l->inv && !(l->inv = inv_new())) {
		diag_error(diags, NULL, "compiling the policy: %s", strerror(ENOMEM));
		return -ENOMEM;
	}
	int rc = filter_compile(l->pol, l->inv, &l->fs, diags);
	l->compiled = rc == 0;
	return rc;
}

int load_run(struct load *l, const struct load_src *policy, const struct load_src *inv, struct diag_list *diags)
{
	int rp = load_policy(l, policy, diags);
	int ri = inv ? load_inventory(l, inv, diags) : 0;
	return rp ?: ri ?: load_compile(l, diags);
}

const struct filter_node *load_node(const struct load *l, const char *name, struct diag_list *diags)
{
	if (!l->compiled) {
		diag_error(diags, NULL, "no compiled policy to find node '%s' in", name ? name : "*");
		return NULL;
	}
	if (!name)
		return &l->fs.global;
	int i = inv_node_by_name(l->inv, name);
	if (i < 0) {
		diag_error(diags, NULL, "%s: no node named '%s'", l->inv_src ? l->inv_src->name : "inventory", name);
		return NULL;
	}
	/* The filters follow the inventory's order, one a node. */
	return &l->fs.nodes[i];
}

int load_node_facts(const struct filter_node *fn, enum load_flows how, struct load_facts *f)
{
	int rc = how == LOAD_CANONICAL ? filter_node_ir(fn, &f->flows) : filter_node_rules(fn, &f->flows);
	if (rc < 0)
		return rc;
	if (!fn->node)
		return addr_set_add(&f->routes, ADDR_V4, 0, addr_family_max(ADDR_V4)) ?:
		       addr_set_add(&f->routes, ADDR_V6, 0, addr_family_max(ADDR_V6));
	return inv_node_addrs(fn->node, &f->self) ?: addr_set_add_all(&f->routes, &fn->served);
}

void load_facts_free(struct load_facts *f)
{
	ir_free(&f->flows);
	addr_set_free(&f->self);
	addr_set_free(&f->routes);
}
