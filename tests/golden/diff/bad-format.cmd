aclc diff examples/relay-v2.hujson examples/relay-v3.hujson --format yaml
