aclc diff examples/relay-v2.hujson examples/relay-v9.hujson --nodes examples/relay-nodes-v2.json
