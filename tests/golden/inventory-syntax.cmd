aclc compile examples/relay.hujson --nodes tests/golden/inventory-syntax.json --node laptop
