aclc diff tests/golden/diff/selectors-new.hujson tests/golden/diff/selectors-old.hujson --nodes examples/relay-nodes-v7.json --node relay-1 --format json
