/* polssh: a policy's "ssh" rules and "nodeAttrs", checked as Tailscale
 * checks them (keygate enforces neither: it runs no SSH server and sets no
 * node attributes), and "sshTests" run against the ssh rules.
 *
 * An ssh rule: {"action": "accept"|"check", "src": [...], "dst": [...],
 * "users": [...], "checkPeriod": "12h" (check only, at most 168h, or
 * "always"), "acceptEnv": [...], "recorder": ["tag:x"], "enforceRecorder":
 * bool, "srcPosture": [...]}.  src: users, groups, tags, autogroups naming
 * devices, "*"; dst: tags, users, groups, autogroup:self, autogroup:member,
 * autogroup:tagged (no addresses, hosts or "*"); users: logins, "root",
 * "autogroup:nonroot", "localpart:*@DOMAIN", "*".  The first rule (in file
 * order) matching a source device, destination device and login decides:
 * accept, check, else deny. */
#ifndef POLSSH_H
#define POLSSH_H
#include <stdbool.h>
#include <stdio.h>

#include "pol.h"
#include "inv.h"

enum pol_ssh_action { SSH_DENY, SSH_ACCEPT, SSH_CHECK };

struct pol_ssh {
	enum pol_ssh_action action;
	struct pol_alias *src, *dst;
	size_t nsrc, ndst;
	char **users;
	size_t nusers;
	const struct hj_value *at;
};

/* Check and load "ssh" into P; false with located errors queued. */
bool pol_ssh_load(struct pol_policy *p, const struct hj_value *v, struct diag_list *diags);
/* Check "nodeAttrs"; false with located errors queued. */
bool pol_node_attrs_check(const struct pol_policy *p, const struct hj_value *v, struct diag_list *diags);
/* Check the shape of "sshTests" (run by pol_ssh_tests_run). */
bool pol_ssh_tests_check(const struct hj_value *v, struct diag_list *diags);
void pol_ssh_free(struct pol_policy *p);

/* What the ssh rules decide for a connection from node SRC to node DST as
 * LOGIN. */
enum pol_ssh_action pol_ssh_decide(const struct pol_policy *p, const struct inv *inv, const struct inv_node *src,
				   const struct inv_node *dst, const char *login);
/* Run "sshTests"; each failing assertion printed (located) to OUT.  The
 * number of failures. */
int pol_ssh_tests_run(const struct pol_policy *p, const struct inv *inv, FILE *out);

#endif
