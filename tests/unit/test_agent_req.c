/* Unit tests for the agent's request parsing of login_server: one
 * coordinator or several, comma-separated, and agent_server_nth, which
 * picks the one a node uses now (moving to the next on each loss). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

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

int main(void)
{
	parse_cases();
	nth();
	T_DONE();
}
