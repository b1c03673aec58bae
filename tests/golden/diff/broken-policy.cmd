aclc diff examples/relay-v2.hujson tests/golden/diff/broken.hujson --nodes examples/relay-nodes-v2.json
