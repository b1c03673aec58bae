aclc test tests/golden/forms/roles.hujson --nodes tests/golden/forms/nodes.json
