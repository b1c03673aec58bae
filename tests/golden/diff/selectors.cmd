aclc diff tests/golden/diff/selectors-old.hujson tests/golden/diff/selectors-new.hujson --nodes examples/relay-nodes-v7.json
