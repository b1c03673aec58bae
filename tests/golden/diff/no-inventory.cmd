aclc diff examples/relay.hujson examples/relay-v2.hujson
