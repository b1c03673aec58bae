aclc diff examples/relay-v4.hujson examples/relay-v5.hujson --nodes examples/relay-nodes-v2.json
