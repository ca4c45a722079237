//! Integration tests of the harness (one binary, modules by topic).

mod careless;
