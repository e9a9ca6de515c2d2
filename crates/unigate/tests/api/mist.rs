//! mist tests.
