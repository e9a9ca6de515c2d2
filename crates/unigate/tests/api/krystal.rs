//! krystal tests.
