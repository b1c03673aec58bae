/* Unit tests for the agent's request parsing of login_server: one
 * coordinator or several, comma-separated, and agent_server_nth, which
 * picks the one a node uses now (moving to the next on each loss); and
 * the route probes' syntax (keygate up --route-probe, agent_probe.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "agent_probe.h"
#include "agent_req.h"
#include "t.h"

static void parse_cases(void)
{
	static const struct {
		const char *servers;
		bool ok;
	} cases[] = {
		{ "10.0.0.1:7443", true },
		{ "10.0.0.1:7443,10.0.0.2:7443", true },
		{ "coord-a.example.com:443,[2001:db8::1]:443,10.0.0.3:1", true },
		{ "1.1.1.1:1,2.2.2.2:2,3.3.3.3:3,4.4.4.4:4,5.5.5.5:5,6.6.6.6:6,7.7.7.7:7,8.8.8.8:8", true },
		{ "1.1.1.1:1,2.2.2.2:2,3.3.3.3:3,4.4.4.4:4,5.5.5.5:5,6.6.6.6:6,7.7.7.7:7,8.8.8.8:8,9.9.9.9:9", false },
		{ "10.0.0.1:7443,", false },
		{ ",10.0.0.1:7443", false },
		{ "10.0.0.1:7443,,10.0.0.2:7443", false },
		{ "10.0.0.1:7443,10.0.0.2", false },
		{ "", false },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char req[512], err[256] = "";
		struct agent_req r;
		int rc;

		snprintf(req, sizeof(req), "{\"cmd\":\"up\",\"login_server\":\"%s\"}", cases[i].servers);
		rc = agent_req_parse(req, strlen(req), &r, err, sizeof(err));
		if (rc == 0)
			agent_req_free(&r);
		T_CHECK((rc == 0) == cases[i].ok, "login_server \"%s\": %s%s", cases[i].servers,
			cases[i].ok ? "accepted" : "refused: ", rc ? err : "");
	}
}

static void nth(void)
{
	const char *list = "a:1,b:2,c:3";
	char out[16], small[3];

	T_CHECK(agent_server_nth(list, 0, out, sizeof(out)) == 3 && !strcmp(out, "a:1"), "the first of three: %s", out);
	T_CHECK(agent_server_nth(list, 2, out, sizeof(out)) == 3 && !strcmp(out, "c:3"), "the third: %s", out);
	T_CHECK(agent_server_nth(list, 4, out, sizeof(out)) == 3 && !strcmp(out, "b:2"),
		"after a loss of the third and another, round again to the second: %s", out);
	T_CHECK(agent_server_nth("x:9", 7, out, sizeof(out)) == 1 && !strcmp(out, "x:9"), "one: always that one");
	T_CHECK(agent_server_nth("", 0, out, sizeof(out)) == 0, "an empty list has none");
	T_CHECK(agent_server_nth(list, 0, small, sizeof(small)) == -ENAMETOOLONG, "an entry too long for OUT");
}

/* keygate up --route-probe: the syntax, the target text, the refusals. */
static void probes(void)
{
	static const struct {
		const char *spec, *want;	/* want: the targets, or the start of the refusal */
	} cases[] = {
		{ "8.8.8.8/32=tcp:443", "tcp:8.8.8.8:443" },
		{ "8.8.8.8/32=tcp:443,10.1.0.0/16=tcp:10.1.2.3:5432", "tcp:8.8.8.8:443 tcp:10.1.2.3:5432" },
		{ "2001:db8::/64=tcp:[2001:db8::7]:80", "tcp:[2001:db8::7]:80" },
		{ "10.1.0.0/16=tcp:443", "probe \"tcp:443\": give tcp:PORT" },
		{ "8.8.8.8/32=udp:53", "probe \"udp:53\": only tcp" },
		{ "8.8.8.8/32=tcp:0", "probe \"tcp:0\"" },
		{ "8.8.4.4/32=tcp:443", "route probe \"8.8.4.4/32=tcp:443\": 8.8.4.4/32 is not an advertised route" },
		{ "8.8.8.8/32", "route probe \"8.8.8.8/32\": not PREFIX=" },
		{ "8.8.8.8/32=tcp:example.com:443", "probe \"tcp:example.com:443\": example.com is not an IP address" },
	};
	static const char *const adv[] = { "8.8.8.8/32", "10.1.0.0/16", "2001:db8::/64" };
	struct ctl_prefix v[3];
	for (size_t i = 0; i < 3; i++)
		ctl_prefix_parse(&v[i], adv[i]);
	const struct ctl_prefixes routes = { v, 3 };
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct agent_probes p = { 0 };
		char err[256] = "", got[256] = "";
		int rc = agent_probe_parse(cases[i].spec, &routes, &p, err, sizeof err);
		for (size_t k = 0; rc == 0 && k < p.n; k++)
			snprintf(got + strlen(got), sizeof got - strlen(got), "%s%s", k ? " " : "", p.v[k].r.target);
		const char *res = rc == 0 ? got : err;
		T_CHECK(strncmp(res, cases[i].want, strlen(cases[i].want)) == 0 && (rc == 0) == !strchr(cases[i].want, '"'),
			"route probe %s: %s", cases[i].spec, res);
	}
}

int main(void)
{
	probes();
	parse_cases();
	nth();
	T_DONE();
}
