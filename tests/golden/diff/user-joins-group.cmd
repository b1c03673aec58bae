aclc diff tests/golden/diff/eng-without-bob.hujson examples/relay-v6.hujson --nodes examples/relay-nodes-v7.json
