//! Unit tests of `decide` (the case files in tests/cases cover the rest).

use super::*;
