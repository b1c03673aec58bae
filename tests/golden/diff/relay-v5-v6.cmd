aclc diff examples/relay-v5.hujson examples/relay-v6.hujson --nodes examples/relay-nodes-v2.json
