//! Holds only the criterion benchmarks in `engine.rs`.
