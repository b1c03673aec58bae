aclc test tests/golden/forms/synced.hujson --nodes tests/golden/forms/nodes.json
