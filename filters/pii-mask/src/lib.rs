//! pii-mask: masks personal data and secrets in bodies as they stream.
//!
//! Split by concern:
//! * [`detect`]: the detectors, one pass over the bytes, and the window that makes
//!   chunked masking exact;
//! * `scan`: the built-in patterns matched by hand at candidate starts;
//! * [`validate`]: the checks that tell real values from lookalikes (Luhn, mod-97,
//!   SSN ranges, address parsing);
//! * [`action`]: placeholders, partial masks, keyed pseudonyms, removal;
//! * [`segment`]: masking text that arrives in pieces, holding back only what is
//!   undecided;
//! * [`json`]: the streaming JSON walker and its field rules (`names`: the member
//!   names it has found clean); [`pointer`]: their
//!   JSON Pointers;
//! * [`body`]: one body from first chunk to last (decoding, limits);
//! * [`decide`]: requests' and responses' decisions over plain data;
//! * [`config`]: the documented configuration and its compiled form;
//! * [`filter`]: the thin proxy-wasm glue.

pub mod action;
pub mod body;
pub mod config;
pub mod decide;
pub mod detect;
pub mod filter;
pub mod json;
mod names;
pub mod pointer;
mod scan;
pub mod segment;
pub mod validate;

pub use filter::PiiMaskRoot;

tollgate_kit::export_filter!(PiiMaskRoot::default());
