aclc diff examples/relay.hujson examples/relay-v2.hujson --nodes examples/relay-nodes.json --nodes-new examples/relay-nodes-v2.json
