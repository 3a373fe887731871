//! The HCP management API (and REST namespace) header:
//! `Authorization: HCP <base64(username)>:<md5hex(password)>`, and the S3 keys HCP
//! derives from the same credentials (access key `base64(username)`, secret key
//! `md5hex(password)`).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use md5::{Digest, Md5};

use crate::sigv4::hex;

pub fn access_key(username: &str) -> String {
    STANDARD.encode(username.as_bytes())
}

pub fn secret_key(password: &str) -> String {
    hex(&Md5::digest(password.as_bytes()))
}

pub fn authorization(username: &str, password: &str) -> String {
    format!("HCP {}:{}", access_key(username), secret_key(password))
}

#[cfg(test)]
#[path = "mgmt_tests.rs"]
mod tests;
