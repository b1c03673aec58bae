aclc compile tests/golden/forms/roles.hujson --nodes tests/golden/forms/nodes.json --node server --format tailscale
