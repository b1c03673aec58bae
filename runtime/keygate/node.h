/* node: keygate(1)'s up, down and status, spoken to the local keygated
 * over its command socket (keygated(8), COMMAND SOCKET).  Exit status: 0
 * done, 1 refused or failed (keygated says why), 2 usage or connection
 * error. */
#ifndef NODE_H
#define NODE_H

int node_up(int argc, char **argv);
int node_down(int argc, char **argv);
int node_status(int argc, char **argv);

#endif
