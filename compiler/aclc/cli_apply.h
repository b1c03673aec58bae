/* cli_apply: `aclc apply` (cli.h declares cli_apply), and the same with
 * the netlink backend's test hooks, for the test program that shows the
 * generation retry and the kernel error mapping (tests/apply/apply_hooks.c);
 * aclc itself never sets them. */
#ifndef CLI_APPLY_H
#define CLI_APPLY_H

struct nftb_test_hooks;

/* cli_apply with TEST (NULL: none) in the backend's options. */
int cli_apply_hooked(int argc, char **argv, const struct nftb_test_hooks *test);

#endif
