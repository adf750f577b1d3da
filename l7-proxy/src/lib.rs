//! The proxy engine.
