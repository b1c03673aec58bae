/* fuzz_agentcmd: keygated's command socket requests (agent_req_parse) on
 * arbitrary bytes, as a client could send them.  A request that decodes
 * must hold only what the decoder promises: a known command, routes
 * without host bits whose text parses back to the same prefix, exit routes
 * in pairs; a refusal must carry a reason.  Any broken invariant traps. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent_fwd.h"
#include "agent_req.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct agent_req r;
	char err[512] = "";
	if (agent_req_parse((const char *)data, size, &r, err, sizeof err) < 0) {
		if (!err[0])
			__builtin_trap();
		return 0;
	}
	if (r.cmd != AGENT_CMD_UP && r.cmd != AGENT_CMD_DOWN && r.cmd != AGENT_CMD_STATUS)
		__builtin_trap();
	for (size_t i = 0; i < r.routes.n; i++) {
		char text[64];
		struct ctl_prefix back;
		ctl_prefix_format(text, &r.routes.v[i]);
		if (agent_route_parse(text, &back, err, sizeof err) < 0 || memcmp(&back, &r.routes.v[i], sizeof back))
			__builtin_trap();
	}
	if (agent_routes_check(&r.routes, err, sizeof err) < 0)
		__builtin_trap();
	agent_req_free(&r);
	return 0;
}
