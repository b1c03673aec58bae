/* inv_service: the inventory's Tailscale Services, their addresses and the
 * nodes hosting them. */
#include "inv.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "inv_int.h"
#include "mem.h"

bool inv_service_name_valid(const char *name)
{
	if (!name || strncmp(name, "svc:", 4) != 0)
		return false;
	const char *l = name + 4;
	size_t n = strlen(l);
	if (n == 0 || n > 63 || l[0] == '-' || l[n - 1] == '-')
		return false;
	return strspn(l, "abcdefghijklmnopqrstuvwxyz0123456789-") == n;
}

int inv_service_by_name(const struct inv *inv, const char *name)
{
	for (size_t i = 0; i < inv->nservices; i++)
		if (strcmp(inv->services[i].name, name) == 0)
			return (int)i;
	return -1;
}

int inv_add_service(struct inv *inv, const char *name)
{
	if (!inv_service_name_valid(name))
		return -EINVAL;
	if (inv_service_by_name(inv, name) >= 0)
		return -EEXIST;
	if (MEM_RESERVE(inv->services, inv->capservices, inv->nservices + 1) < 0)
		return -ENOMEM;
	struct inv_service *s = &inv->services[inv->nservices];
	*s = (struct inv_service){ .name = strdup(name) };
	if (!s->name)
		return -ENOMEM;
	return (int)inv->nservices++;
}

int inv_service_set_addr(struct inv *inv, size_t svc, enum addr_family family, const char *text)
{
	if (svc >= inv->nservices)
		return -EINVAL;
	struct inv_service *s = &inv->services[svc];
	return inv_addr_store(family, text, &s->has_v4, &s->v4, &s->has_v6, &s->v6);
}

int inv_service_add_host(struct inv *inv, size_t svc, const char *node)
{
	if (svc >= inv->nservices || !inv_text_clean(node))
		return -EINVAL;
	return inv_strs_push(&inv->services[svc].hosts, &inv->services[svc].nhosts, node);
}

int inv_service_check(const struct inv *inv, struct diag_list *diags)
{
	int rc = 0;
	for (size_t i = 0; i < inv->nservices; i++) {
		const struct inv_service *s = &inv->services[i];
		if (!s->has_v4 && !s->has_v6) {
			diag_error(diags, NULL, "inventory: service \"%s\": a service needs \"ipv4\" or \"ipv6\"", s->name);
			rc = -EINVAL;
		}
		for (size_t j = 0; j < s->nhosts; j++) {
			if (inv_node_by_name(inv, s->hosts[j]) >= 0)
				continue;
			diag_error(diags, NULL, "inventory: service \"%s\": no node named \"%s\"", s->name, s->hosts[j]);
			rc = -EINVAL;
		}
	}
	return rc;
}

void inv_services_free(struct inv *inv)
{
	for (size_t i = 0; i < inv->nservices; i++) {
		free(inv->services[i].name);
		for (size_t j = 0; j < inv->services[i].nhosts; j++)
			free(inv->services[i].hosts[j]);
		free(inv->services[i].hosts);
	}
	free(inv->services);
}
