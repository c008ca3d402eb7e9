//! New flag sources end to end.
