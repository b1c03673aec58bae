aclc diff examples/relay-v6.hujson examples/relay-v6.hujson --nodes examples/relay-nodes-v2.json --nodes-new examples/relay-nodes-v7.json
