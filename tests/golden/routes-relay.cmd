aclc compile examples/relay.hujson --nodes examples/relay-nodes.json --format routes
