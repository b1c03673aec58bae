/* diff_out: a diff's changes as sentences for people, or as JSON for tools. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "diff.h"

/* The source line at LOC, without leading blanks: *LEN bytes at the result. */
static const char *loc_line(const struct diag_loc *loc, int *len)
{
	const struct diag_src *src = loc->src;
	*len = 0;
	if (!src || loc->line == 0)
		return NULL;
	const char *p = src->text, *end = src->text + src->len;
	for (unsigned l = 1; l < loc->line && p < end; p++)
		if (*p == '\n')
			l++;
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	const char *e = p;
	while (e < end && *e != '\n' && *e != '\r')
		e++;
	*len = (int)(e - p > 120 ? 120 : e - p);
	return p;
}

static const char *cause_verb(enum diff_kind kind)
{
	switch (kind) {
	case DIFF_GAIN: return "allowed by";
	case DIFF_LOSS: return "was allowed by";
	case DIFF_ROUTE_ADDED: return "approved by";
	case DIFF_ROUTE_REMOVED: return "was approved by";
	case DIFF_PEER_ADDED:
	case DIFF_PEER_IPS_ADDED: return "connected by";
	case DIFF_PEER_REMOVED:
	case DIFF_PEER_IPS_REMOVED: return "was connected by";
	case DIFF_NODE_ADDED: return "listed in";
	default: return "was listed in";
	}
}

/* C and the RUN - 1 changes after it are one sentence (peers only). */
static void write_sentence(FILE *out, const struct diff_change *c, size_t run)
{
	const char *via = c->node && !c->to_node ? c->node : "";
	switch (c->kind) {
	case DIFF_NODE_ADDED:
	case DIFF_NODE_REMOVED:
		fprintf(out, "node %s %s (%s; %s)\n", c->node, c->kind == DIFF_NODE_ADDED ? "joins" : "leaves",
			c->who ? c->who : "no owner", c->what ? c->what : "no address");
		return;
	case DIFF_ROUTE_ADDED:
	case DIFF_ROUTE_REMOVED:
		fprintf(out, "%s %s route %s\n", c->node, c->kind == DIFF_ROUTE_ADDED ? "now serves" : "no longer serves",
			c->what);
		return;
	case DIFF_PEER_ADDED:
	case DIFF_PEER_REMOVED:
		fprintf(out, "%s %s peer%s ", c->node, c->kind == DIFF_PEER_ADDED ? "now sees" : "no longer sees",
			run > 1 ? "s" : "");
		for (size_t i = 0; i < run; i++)
			fprintf(out, "%s%s (%s)", i ? ", " : "", c[i].who, c[i].what);
		fprintf(out, "\n");
		return;
	case DIFF_PEER_IPS_ADDED:
	case DIFF_PEER_IPS_REMOVED:
		fprintf(out, "%s %s %s through peer %s\n", c->node,
			c->kind == DIFF_PEER_IPS_ADDED ? "now reaches" : "no longer reaches", c->what, c->who);
		return;
	default:
		fprintf(out, "%s %s %s to %s%s%s\n", c->who, c->kind == DIFF_GAIN ? "gains" : "loses", c->what, c->where,
			*via ? " via " : "", via);
	}
}

/* Peers a node is now (no longer) told about for the same reasons: one
 * sentence in text. */
static bool same_peer_sentence(const struct diff_change *a, const struct diff_change *b)
{
	if ((a->kind != DIFF_PEER_ADDED && a->kind != DIFF_PEER_REMOVED) || b->kind != a->kind ||
	    strcmp(a->node, b->node) != 0 || a->ncauses != b->ncauses)
		return false;
	for (size_t k = 0; k < a->ncauses; k++)
		if (a->causes[k].loc.src != b->causes[k].loc.src || a->causes[k].loc.line != b->causes[k].loc.line ||
		    a->causes[k].loc.col != b->causes[k].loc.col)
			return false;
	return true;
}

int diff_write_text(FILE *out, const struct diff_result *r)
{
	size_t count[DIFF_LOSS + 1] = { 0 };
	for (size_t i = 0, run; i < r->n; i += run) {
		const struct diff_change *c = &r->v[i];
		for (run = 1; i + run < r->n && same_peer_sentence(c, &r->v[i + run]); run++)
			;
		count[c->kind] += run;
		write_sentence(out, c, run);
		for (size_t k = 0; k < c->ncauses; k++) {
			const struct diag_loc *loc = &c->causes[k].loc;
			int len;
			const char *line = loc_line(loc, &len);
			if (line)
				fprintf(out, "    %s %s:%u:%u: %.*s\n", cause_verb(c->kind), loc->src->name, loc->line,
					loc->col, len, line);
			else if (c->kind == DIFF_ROUTE_ADDED || c->kind == DIFF_ROUTE_REMOVED)
				fprintf(out, "    %s in %s (approved_routes)\n", c->kind == DIFF_ROUTE_ADDED ? "approved" :
					"was approved", loc->src ? loc->src->name : "?");
			else
				fprintf(out, "    %s %s\n", cause_verb(c->kind), loc->src ? loc->src->name : "?");
		}
	}
	if (r->n == 0) {
		fprintf(out, "no change\n");
		return ferror(out) ? -EIO : 0;
	}
	static const char *const names[][2] = {
		[DIFF_NODE_ADDED] = { "node joins", "nodes join" },
		[DIFF_NODE_REMOVED] = { "node leaves", "nodes leave" },
		[DIFF_ROUTE_ADDED] = { "route added", "routes added" },
		[DIFF_ROUTE_REMOVED] = { "route withdrawn", "routes withdrawn" },
		[DIFF_PEER_ADDED] = { "peer shown", "peers shown" },
		[DIFF_PEER_REMOVED] = { "peer hidden", "peers hidden" },
		[DIFF_PEER_IPS_ADDED] = { "peer route added", "peer routes added" },
		[DIFF_PEER_IPS_REMOVED] = { "peer route removed", "peer routes removed" },
		[DIFF_GAIN] = { "gain", "gains" },
		[DIFF_LOSS] = { "loss", "losses" },
	};
	static const int order[] = { DIFF_GAIN, DIFF_LOSS, DIFF_ROUTE_ADDED, DIFF_ROUTE_REMOVED, DIFF_PEER_ADDED,
				     DIFF_PEER_REMOVED, DIFF_PEER_IPS_ADDED, DIFF_PEER_IPS_REMOVED,
				     DIFF_NODE_ADDED, DIFF_NODE_REMOVED };
	fprintf(out, "%zu change%s", r->n, r->n == 1 ? "" : "s");
	if (r->nodes_changed)
		fprintf(out, " on %zu node%s", r->nodes_changed, r->nodes_changed == 1 ? "" : "s");
	const char *sep = ": ";
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++)
		if (count[order[i]]) {
			fprintf(out, "%s%zu %s", sep, count[order[i]], names[order[i]][count[order[i]] != 1]);
			sep = ", ";
		}
	fprintf(out, "\n");
	return ferror(out) ? -EIO : 0;
}

static const char *kind_name(enum diff_kind kind)
{
	switch (kind) {
	case DIFF_NODE_ADDED: return "node-added";
	case DIFF_NODE_REMOVED: return "node-removed";
	case DIFF_ROUTE_ADDED: return "route-added";
	case DIFF_ROUTE_REMOVED: return "route-removed";
	case DIFF_PEER_ADDED: return "peer-added";
	case DIFF_PEER_REMOVED: return "peer-removed";
	case DIFF_PEER_IPS_ADDED: return "peer-route-added";
	case DIFF_PEER_IPS_REMOVED: return "peer-route-removed";
	case DIFF_GAIN: return "gain";
	default: return "loss";
	}
}

static cJSON *flow_json(const struct ir_box *b)
{
	char pb[8], buf[ADDR_RANGE_STRLEN];
	cJSON *o = cJSON_CreateObject();
	cJSON *ports = cJSON_CreateArray();
	if (!o || !ports) {
		cJSON_Delete(o);
		cJSON_Delete(ports);
		return NULL;
	}
	cJSON_AddItemToArray(ports, cJSON_CreateNumber(b->port_lo));
	cJSON_AddItemToArray(ports, cJSON_CreateNumber(b->port_hi));
	cJSON_AddNumberToObject(o, "family", b->family);
	cJSON_AddStringToObject(o, "proto", proto_name(b->proto, pb));
	cJSON_AddNumberToObject(o, "proto_number", b->proto);
	cJSON_AddItemToObject(o, "ports", ports);
	cJSON_AddStringToObject(o, "dst", addr_range_format(b->family, b->dst_lo, b->dst_hi, buf));
	cJSON_AddStringToObject(o, "src", addr_range_format(b->family, b->src_lo, b->src_hi, buf));
	return o;
}

static cJSON *cause_json(const struct diff_cause *cause)
{
	cJSON *o = cJSON_CreateObject();
	if (!o)
		return NULL;
	int len;
	const char *line = loc_line(&cause->loc, &len);
	cJSON_AddStringToObject(o, "side", cause->old ? "old" : "new");
	cJSON_AddStringToObject(o, "file", cause->loc.src ? cause->loc.src->name : "");
	cJSON_AddNumberToObject(o, "line", cause->loc.line);
	cJSON_AddNumberToObject(o, "col", cause->loc.col);
	if (line) {
		char *t = strndup(line, (size_t)len);
		if (t)
			cJSON_AddStringToObject(o, "text", t);
		free(t);
	}
	return o;
}

static void add_string_or_null(cJSON *o, const char *key, const char *s)
{
	if (s)
		cJSON_AddStringToObject(o, key, s);
	else
		cJSON_AddNullToObject(o, key);
}

static cJSON *change_json(const struct diff_change *c)
{
	cJSON *o = cJSON_CreateObject(), *flows = cJSON_CreateArray(), *causes = cJSON_CreateArray();
	if (!o || !flows || !causes) {
		cJSON_Delete(o);
		cJSON_Delete(flows);
		cJSON_Delete(causes);
		return NULL;
	}
	cJSON_AddStringToObject(o, "kind", kind_name(c->kind));
	add_string_or_null(o, "node", c->node);
	switch (c->kind) {
	case DIFF_GAIN:
	case DIFF_LOSS:
		cJSON_AddStringToObject(o, "source", c->who);
		cJSON_AddStringToObject(o, "service", c->what);
		cJSON_AddStringToObject(o, "destination", c->where);
		break;
	case DIFF_ROUTE_ADDED:
	case DIFF_ROUTE_REMOVED:
	case DIFF_PEER_IPS_ADDED:
	case DIFF_PEER_IPS_REMOVED:
		cJSON_AddStringToObject(o, "route", c->what);
		if (c->kind == DIFF_PEER_IPS_ADDED || c->kind == DIFF_PEER_IPS_REMOVED)
			cJSON_AddStringToObject(o, "peer", c->who);
		break;
	case DIFF_PEER_ADDED:
	case DIFF_PEER_REMOVED:
		cJSON_AddStringToObject(o, "peer", c->who);
		cJSON_AddStringToObject(o, "allowed_ips", c->what);
		break;
	default:
		add_string_or_null(o, "owner", c->who);
		add_string_or_null(o, "addresses", c->what);
	}
	for (size_t i = 0; i < c->nboxes; i++)
		cJSON_AddItemToArray(flows, flow_json(&c->boxes[i]));
	for (size_t i = 0; i < c->ncauses; i++)
		cJSON_AddItemToArray(causes, cause_json(&c->causes[i]));
	cJSON_AddItemToObject(o, "flows", flows);
	cJSON_AddItemToObject(o, "causes", causes);
	return o;
}

int diff_write_json(FILE *out, const struct diff_result *r, const char *old_name, const char *new_name)
{
	int rc = -ENOMEM;
	cJSON *root = cJSON_CreateObject(), *changes = cJSON_CreateArray();
	char *text = NULL;
	if (!root || !changes) {
		cJSON_Delete(changes);
		goto out;
	}
	cJSON_AddStringToObject(root, "old", old_name);
	cJSON_AddStringToObject(root, "new", new_name);
	cJSON_AddBoolToObject(root, "changed", r->n > 0);
	cJSON_AddNumberToObject(root, "nodes_changed", (double)r->nodes_changed);
	for (size_t i = 0; i < r->n; i++)
		cJSON_AddItemToArray(changes, change_json(&r->v[i]));
	cJSON_AddItemToObject(root, "changes", changes);
	text = cJSON_Print(root);
	if (!text)
		goto out;
	fprintf(out, "%s\n", text);
	rc = ferror(out) ? -EIO : 0;
out:
	free(text);
	cJSON_Delete(root);
	return rc;
}
