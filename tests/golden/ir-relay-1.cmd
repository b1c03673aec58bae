aclc compile examples/relay.hujson --nodes examples/relay-nodes.json --node relay-1 --format ir
