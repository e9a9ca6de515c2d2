//! mindbridge tests.
