aclc compile tests/golden/forms/services.hujson --nodes tests/golden/forms/nodes.json --node web-1 --format ir
