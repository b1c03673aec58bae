/* ts: Tailscale FilterRule JSON out of and into the flow IR. */
#include "ts.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

int ts_print_json(FILE *out, struct cJSON *root)
{
	char *text = cJSON_Print(root);
	cJSON_Delete(root);
	if (!text)
		return -ENOMEM;
	int rc = fprintf(out, "%s\n", text) < 0 ? -EIO : 0;
	free(text);
	return rc;
}

static cJSON *rule_json(const struct filter_rule *r)
{
	cJSON *o = cJSON_CreateObject(), *src = cJSON_AddArrayToObject(o, "SrcIPs");
	cJSON *dst = cJSON_AddArrayToObject(o, "DstPorts");
	char buf[ADDR_RANGE_STRLEN];
	if (r->src_all)
		cJSON_AddItemToArray(src, cJSON_CreateString("*"));
	else
		for (size_t i = 0; i < r->src.n; i++)
			cJSON_AddItemToArray(src, cJSON_CreateString(addr_range_format(
				r->src.v[i].family, r->src.v[i].lo, r->src.v[i].hi, buf)));
	for (size_t i = 0; i < r->ndst; i++) {
		const struct filter_dst *d = &r->dst[i];
		cJSON *e = cJSON_CreateObject(), *ports;
		cJSON_AddStringToObject(e, "IP", d->any ? "*" : addr_range_format(d->family, d->lo, d->hi, buf));
		ports = cJSON_AddObjectToObject(e, "Ports");
		cJSON_AddNumberToObject(ports, "First", d->ports.lo);
		cJSON_AddNumberToObject(ports, "Last", d->ports.hi);
		cJSON_AddItemToArray(dst, e);
	}
	if (r->nprotos) {
		cJSON *p = cJSON_AddArrayToObject(o, "IPProto");
		for (size_t i = 0; i < r->nprotos; i++)
			cJSON_AddItemToArray(p, cJSON_CreateNumber(r->protos[i]));
	}
	return o;
}

cJSON *ts_node_rules(const struct filter_node *fn)
{
	cJSON *arr = cJSON_CreateArray();
	for (size_t j = 0; arr && j < fn->nrules; j++) {
		if (fn->rules[j].cap_only)
			continue;
		cJSON *rule = rule_json(&fn->rules[j]);
		if (!rule || !cJSON_AddItemToArray(arr, rule)) {
			cJSON_Delete(rule);
			cJSON_Delete(arr);
			return NULL;
		}
	}
	return arr;
}

int ts_write(FILE *out, const struct filter_set *s)
{
	cJSON *root = cJSON_CreateObject();
	if (!root)
		return -ENOMEM;
	for (size_t i = 0; i < s->nnodes; i++) {
		cJSON *arr = ts_node_rules(&s->nodes[i]);
		if (!arr || !cJSON_AddItemToObject(root, s->nodes[i].node->name, arr)) {
			cJSON_Delete(arr);
			cJSON_Delete(root);
			return -ENOMEM;
		}
	}
	return ts_print_json(out, root);
}

/* "*" means both families entirely. */
static int parse_addrs(const char *s, struct addr_set *out)
{
	if (strcmp(s, "*") == 0) {
		if (addr_set_add(out, ADDR_V4, 0, addr_family_max(ADDR_V4)) < 0)
			return -ENOMEM;
		return addr_set_add(out, ADDR_V6, 0, addr_family_max(ADDR_V6));
	}
	enum addr_family f;
	addr_u128 lo, hi;
	if (!addr_range_parse(s, true, &f, &lo, &hi))
		return -EINVAL;
	return addr_set_add(out, f, lo, hi);
}

static const uint8_t default_protos[] = { PROTO_TCP, PROTO_UDP, PROTO_ICMP, PROTO_ICMPV6 };

struct ts_dst {
	struct addr_set addrs;
	unsigned lo, hi;
};

static int rule_to_ir(const cJSON *rule, struct ir_flows *f, char *err, size_t errlen)
{
	const cJSON *src = cJSON_GetObjectItemCaseSensitive(rule, "SrcIPs");
	const cJSON *dst = cJSON_GetObjectItemCaseSensitive(rule, "DstPorts");
	const cJSON *pr = cJSON_GetObjectItemCaseSensitive(rule, "IPProto"), *it;
	uint8_t protos[256];
	size_t np = 0;
	struct addr_set srcs = { 0 };
	int rc = 0;
	if (!dst || cJSON_GetArraySize(dst) == 0)
		return 0;
	cJSON_ArrayForEach(it, pr) {
		if (!cJSON_IsNumber(it) || it->valuedouble < 0 || it->valuedouble > 255 || np == 256) {
			snprintf(err, errlen, "bad IPProto entry");
			return -EINVAL;
		}
		protos[np++] = (uint8_t)it->valueint;
	}
	if (np == 0) {
		memcpy(protos, default_protos, sizeof(default_protos));
		np = sizeof(default_protos);
	}
	cJSON_ArrayForEach(it, src) {
		if (!cJSON_IsString(it) || (rc = parse_addrs(it->valuestring, &srcs)) < 0) {
			snprintf(err, errlen, "bad SrcIPs entry %s", cJSON_IsString(it) ? it->valuestring : "");
			goto out;
		}
	}
	cJSON_ArrayForEach(it, dst) {
		const cJSON *ip = cJSON_GetObjectItemCaseSensitive(it, "IP");
		const cJSON *ports = cJSON_GetObjectItemCaseSensitive(it, "Ports");
		const cJSON *first = cJSON_GetObjectItemCaseSensitive(ports, "First");
		const cJSON *last = cJSON_GetObjectItemCaseSensitive(ports, "Last");
		struct addr_set d = { 0 };
		if (!cJSON_IsString(ip) || !cJSON_IsNumber(first) || !cJSON_IsNumber(last) ||
		    parse_addrs(ip->valuestring, &d) < 0) {
			snprintf(err, errlen, "bad DstPorts entry");
			addr_set_free(&d);
			rc = -EINVAL;
			goto out;
		}
		for (size_t s = 0; rc == 0 && s < srcs.n; s++)
			for (size_t k = 0; rc == 0 && k < d.n; k++) {
				if (d.v[k].family != srcs.v[s].family)
					continue;
				for (size_t p = 0; rc == 0 && p < np; p++) {
					struct ir_box b = {
						.family = d.v[k].family, .proto = protos[p],
						.port_lo = (uint16_t)first->valueint, .port_hi = (uint16_t)last->valueint,
						.dst_lo = d.v[k].lo, .dst_hi = d.v[k].hi,
						.src_lo = srcs.v[s].lo, .src_hi = srcs.v[s].hi,
					};
					rc = ir_add(f, &b, NULL);
				}
			}
		addr_set_free(&d);
		if (rc < 0) {
			snprintf(err, errlen, "bad port range");
			goto out;
		}
	}
out:
	addr_set_free(&srcs);
	return rc;
}

int ts_rules_to_ir(const cJSON *rules, struct ir_flows *f, char *err, size_t errlen)
{
	const cJSON *r;
	if (!rules || cJSON_IsNull(rules))
		return 0;
	if (!cJSON_IsArray(rules)) {
		snprintf(err, errlen, "filter rules must be an array");
		return -EINVAL;
	}
	cJSON_ArrayForEach(r, rules) {
		int rc = rule_to_ir(r, f, err, errlen);
		if (rc < 0)
			return rc;
	}
	return 0;
}
