aclc compile examples/relay.hujson --table "kg table"
