aclc parse examples/relay.hujson
