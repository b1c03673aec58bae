/* coord_static: wg-quick configurations for stock WireGuard devices. */
#include "coord_static.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coord_state.h"
#include "ctl_json.h"

static void prefixes(FILE *f, const char *field, const struct ctl_prefixes *p)
{
	char text[64];
	fprintf(f, "%s = ", field);
	for (size_t i = 0; i < p->n; i++) {
		ctl_prefix_format(text, &p->v[i]);
		fprintf(f, "%s%s", i ? ", " : "", text);
	}
	fputc('\n', f);
}

/* One endpoint for a peer without path discovery: the first IPv4 one, else
 * the first. */
static const struct ctl_endpoint *endpoint(const struct ctl_peer *p)
{
	for (size_t i = 0; i < p->endpoints.n; i++)
		if (p->endpoints.v[i].family == 4)
			return &p->endpoints.v[i];
	return p->endpoints.n ? &p->endpoints.v[0] : NULL;
}

char *coord_static_config(const struct ctl_netmap *m)
{
	char *text = NULL, ep[64], key[45];
	size_t len;
	FILE *f = open_memstream(&text, &len);
	if (!f)
		return NULL;
	fprintf(f, "# keygate: %s (a stock WireGuard device)\n[Interface]\n%s\n", m->self.name, COORD_STATIC_KEY_LINE);
	prefixes(f, "Address", &m->self.addresses);
	for (size_t i = 0; i < m->n_peers; i++) {
		const struct ctl_peer *p = &m->peers[i];
		const struct ctl_endpoint *e = endpoint(p);
		if (!e)
			continue;	/* another device: nothing to dial */
		coord_key_base64(key, p->wg_key);
		ctl_endpoint_format(ep, e);
		fprintf(f, "\n[Peer]\n# %s\nPublicKey = %s\nEndpoint = %s\n", p->name, key, ep);
		prefixes(f, "AllowedIPs", &p->allowed_ips);
		fprintf(f, "PersistentKeepalive = 25\n");
	}
	if (fclose(f) != 0) {
		free(text);
		return NULL;
	}
	return text;
}

void coord_static_hash(const char *config, char out[65])
{
	uint8_t h[32];
	crypto_generichash(h, sizeof h, (const uint8_t *)config, strlen(config), NULL, 0);
	sodium_bin2hex(out, 65, h, sizeof h);
}

void coord_static_setting(int64_t id, char out[32])
{
	snprintf(out, 32, "static:%" PRId64, id);
}
