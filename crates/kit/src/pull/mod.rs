//! The pull client's parts, shared by every filter (Envoy and Kong; APISIX has no
//! timers or shared data, so its configs are pushed through its Admin API).
//!
//! A filter whose plugin configuration holds a `control` block ([`block`]) polls the
//! control service for its group's resolved config, by HTTP callout on its tick, with
//! the pull protocol's headers ([`protocol`]): `If-None-Match`, its gateway id, the
//! revision it runs and the last one it refused. A new document is loaded only if its
//! `Tollgate-Signature` verifies with a configured key and names this project, group
//! and filter ([`signature`]).
//!
//! One worker per process polls, holding a [`lease`] in shared data; the document it
//! loads is published in shared data ([`shared`]) for the other workers.
//!
//! These are plain functions over plain data and the [`Host`](crate::Host) trait,
//! tested natively on the mock host (Envoy's and Kong's shared-data rules included);
//! the root-context wrapper that drives them on the tick and swaps the filter's config
//! builds on them.

pub mod block;
pub mod lease;
pub mod protocol;
pub mod root;
pub mod shared;
pub mod shim;
pub mod signature;
