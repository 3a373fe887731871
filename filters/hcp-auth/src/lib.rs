//! hcp-auth: per-user Hitachi Content Platform credentials built from a verified token.
//!
//! * [`credentials`]: username, password and tenant from jwt-auth's verified claims;
//! * [`mgmt`]: the `HCP <base64(user)>:<md5(password)>` header and HCP's S3 keys;
//! * [`sigv4`]: AWS Signature Version 4;
//! * [`config`]: the documented configuration and its compiled form;
//! * [`decide`]: the per-request decision over plain data;
//! * [`filter`]: the thin proxy-wasm glue.

pub mod config;
pub mod credentials;
pub mod decide;
pub mod filter;
pub mod mgmt;
pub mod sigv4;

pub use filter::HcpAuthRoot;

tollgate_kit::export_filter!(HcpAuthRoot::default());
