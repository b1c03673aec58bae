aclc diff examples/relay-v3.hujson examples/relay-v4.hujson --nodes examples/relay-nodes-v2.json --format json
