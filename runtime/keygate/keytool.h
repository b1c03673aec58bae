/* keytool: the key subcommands of keygate(1).  Each returns an exit status. */
#ifndef KEYTOOL_H
#define KEYTOOL_H

int keytool_genkey(int argc, char **argv);
int keytool_pubkey(int argc, char **argv);

#endif
