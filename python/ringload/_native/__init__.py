"""Native users: code that feeds the Rust engine's aggregates into Locust."""
