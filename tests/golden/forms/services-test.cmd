aclc test tests/golden/forms/services.hujson --nodes tests/golden/forms/nodes.json
