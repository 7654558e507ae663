//! The regress suite's fixtures. Scenarios live in `tests/`.
