# Convenience recipes; the README's two commands work without `just`.

# Run the API with an embedded worker, everything in memory.
run:
    cargo run --release -p goodrobot-api

# The whole test suite (needs the local Redis and Postgres).
test:
    cargo test --workspace

# Format check and lints, as CI runs them.
lint:
    cargo fmt --all --check
    cargo clippy --workspace --all-targets -- -D warnings

# The task-queue benchmark against REDIS_URL (default redis://127.0.0.1:6379).
bench n="20000":
    cargo run --release -p goodrobot-bench -- {{n}}
