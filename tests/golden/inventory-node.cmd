aclc check examples/relay.hujson --nodes tests/golden/inventory-node.json
