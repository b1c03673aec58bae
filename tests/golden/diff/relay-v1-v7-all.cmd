aclc diff examples/relay.hujson examples/relay-v6.hujson --nodes examples/relay-nodes.json --nodes-new examples/relay-nodes-v7.json
