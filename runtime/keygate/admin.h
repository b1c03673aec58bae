/* admin: keygate(1)'s administration commands, spoken to the coordinator
 * over its admin socket (keygate-coord(8), ADMIN PROTOCOL).  Each returns
 * an exit status: 0 done, 1 refused (the coordinator says why), 2 usage or
 * connection error. */
#ifndef ADMIN_H
#define ADMIN_H

#define ADMIN_DEFAULT_SOCKET "/var/lib/keygate-coord/admin.sock"

/* SOCKET: the admin socket's path.  ARGV[0] is the command's group
 * ("users", "authkey", "nodes", "routes", "policy"). */
int admin_run(const char *socket, int argc, char **argv);

#endif
