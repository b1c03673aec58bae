aclc diff examples/relay-v2.hujson examples/relay.hujson --nodes examples/relay-nodes-v2.json --nodes-new examples/relay-nodes.json
