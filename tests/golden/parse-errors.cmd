aclc parse tests/golden/parse-errors.hujson
