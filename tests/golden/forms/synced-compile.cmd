aclc compile tests/golden/forms/synced.hujson --nodes tests/golden/forms/nodes.json --format tailscale
