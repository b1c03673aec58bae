aclc test tests/golden/forms/legacy.hujson --nodes tests/golden/forms/nodes.json
