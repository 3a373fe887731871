//! What distinguishes the hosts Tollgate runs in.

/// The proxy a [`Plugin`](crate::Plugin) behaves like.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Profile {
    /// Envoy 1.40 with the V8 runtime: the reference host.
    #[default]
    Envoy,
    /// Apache APISIX through api7's wasm-nginx-module: no shared data, queues, timers,
    /// clock, body writes or gRPC (all `Unimplemented`); callouts take `host:port`; body
    /// callbacks only after `wasm_process_req_body` / `wasm_process_resp_body` is set;
    /// `proxy_set_effective_context` is accepted and ignored; a write to `:authority`
    /// sets the method; properties are nginx variables, settable only when declared.
    Apisix,
    /// Kong's ngx_wasm_module: a replaced body is truncated to the size argument; no
    /// `on_queue_ready` and no `proxy_resolve_shared_queue`; `proxy_set_effective_context`
    /// is accepted and ignored, and acting on a stream from the root crashes the worker;
    /// a removed request header still reaches the upstream; a write to `:authority` is
    /// ignored; custom properties only under `wasmx.`; only the root sets the tick.
    Kong,
}

/// What a write to the request's `:authority` does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthorityWrite {
    /// Envoy: the upstream authority changes.
    Sets,
    /// Kong: `Ok`, an error in the log, nothing changes.
    Ignored,
    /// APISIX: the value becomes the request *method* (`.` is refused: `BadArgument`).
    SetsMethod,
}

/// The nginx variables a Tollgate deployment on APISIX declares (`set $name '';`): the
/// two of APISIX's own template, jwt-auth's credentials handoff and rego-authz's
/// dynamic metadata.
pub const APISIX_VARIABLES: [&str; 4] = [
    "wasm_process_req_body",
    "wasm_process_resp_body",
    "tollgate_credentials",
    "tollgate_rego_metadata",
];

impl Profile {
    /// Whether this host answers `hostcall` with `Unimplemented`.
    pub fn lacks(self, hostcall: &str) -> bool {
        match self {
            Self::Envoy => false,
            // No clock hostcall either (filters read WASI's clock instead, as the kit's
            // ABI layer does); the mock keeps its clock for native tests.
            Self::Apisix => {
                tollgate_kit::facts::APISIX_UNIMPLEMENTED.contains(&hostcall)
                    || hostcall == "proxy_get_current_time_nanoseconds"
            }
            Self::Kong => hostcall == "proxy_resolve_shared_queue",
        }
    }

    /// Whether calling `hostcall` traps. Kong links the gRPC hostcalls and
    /// `proxy_close_stream` but implements none of them: a call traps with "host trap
    /// (function not yet implemented)" (ngx_wasm_module's `ngx_proxy_wasm_hfuncs_nop`).
    pub fn traps_on(self, hostcall: &str) -> bool {
        self == Self::Kong
            && matches!(
                hostcall,
                "proxy_grpc_call"
                    | "proxy_grpc_stream"
                    | "proxy_grpc_send"
                    | "proxy_grpc_cancel"
                    | "proxy_grpc_close"
                    | "proxy_close_stream"
            )
    }

    /// Whether a shared-data write without a CAS token (0) is refused for a key that
    /// exists (Kong's `shm_kv` compares 0 with the key's token: `CasMismatch`); on
    /// Envoy 0 writes unconditionally.
    pub fn unconditional_write_needs_absent_key(self) -> bool {
        matches!(self, Self::Kong)
    }

    /// Whether `proxy_on_response_headers` gets `end_of_stream = 1` even when a body
    /// follows (APISIX's `resty.proxy-wasm` always passes 1).
    pub fn response_headers_always_end_stream(self) -> bool {
        matches!(self, Self::Apisix)
    }

    /// Bytes of slack after the last pair of the response header map
    /// (wasm-nginx-module sizes the `connection` pair as if it were named
    /// `content-length`: 4 bytes too many).
    pub fn response_pairs_slack(self) -> usize {
        if matches!(self, Self::Apisix) { 4 } else { 0 }
    }

    /// Whether a local reply's non-empty body gets a line feed appended (Kong's
    /// `ngx_http_wasm_local_response`).
    pub fn local_reply_appends_newline(self) -> bool {
        matches!(self, Self::Kong)
    }

    /// Whether the host ever calls `proxy_on_queue_ready`.
    pub fn delivers_queue_ready(self) -> bool {
        matches!(self, Self::Envoy)
    }

    /// Whether body callbacks run without the filter opting in through a property.
    pub fn body_callbacks_by_default(self) -> bool {
        !matches!(self, Self::Apisix)
    }

    /// Whether a callout target is a cluster name (`false`: `host:port`).
    pub fn callouts_by_cluster(self) -> bool {
        !matches!(self, Self::Apisix)
    }

    /// Whether the HTTP connection manager adds `x-request-id` and `x-forwarded-proto`.
    pub fn adds_envoy_request_headers(self) -> bool {
        matches!(self, Self::Envoy)
    }

    /// Whether `proxy_set_effective_context` switches contexts (Envoy) or is accepted
    /// for any id and ignored (Kong, APISIX).
    pub fn switches_context(self) -> bool {
        matches!(self, Self::Envoy)
    }

    /// Whether a local reply or a resume issued from the root context kills the worker
    /// (Kong dereferences the missing request).
    pub fn root_stream_call_crashes(self) -> bool {
        matches!(self, Self::Kong)
    }

    /// Whether a removed request header stays away from the upstream. Kong only marks
    /// it removed: the filter still reads it and nginx still sends it; a replaced
    /// header changes in its first copy only.
    pub fn removes_request_headers(self) -> bool {
        !matches!(self, Self::Kong)
    }

    pub fn authority_write(self) -> AuthorityWrite {
        match self {
            Self::Envoy => AuthorityWrite::Sets,
            Self::Kong => AuthorityWrite::Ignored,
            Self::Apisix => AuthorityWrite::SetsMethod,
        }
    }

    /// Whether a property may be written (path segments), or the status the host answers.
    pub fn property_write(self, path: &[String]) -> Result<(), tollgate_kit::Status> {
        use tollgate_kit::Status;
        let key = path.join(".");
        match self {
            Self::Envoy => Ok(()),
            // Kong: only its own namespaces.
            Self::Kong if key.starts_with("wasmx.") || key.starts_with("ngx.") => Ok(()),
            Self::Kong => Err(Status::NotFound),
            // APISIX: an nginx variable, declared; a path of several segments is no
            // variable name at all.
            Self::Apisix if path.len() > 1 => Err(Status::InternalFailure),
            Self::Apisix if APISIX_VARIABLES.contains(&key.as_str()) || key == "args" => Ok(()),
            Self::Apisix => Err(Status::NotFound),
        }
    }

    /// Whether a value set under a path of several segments can be read back. Envoy
    /// looks a custom property up by its first segment only; Kong keeps `wasmx.*`.
    pub fn reads_nested_properties(self) -> bool {
        matches!(self, Self::Kong)
    }

    /// The request target the upstream receives: `sent` is what the client sent, `path`
    /// what `:path` holds after the filters, `written` whether a filter wrote it, `args`
    /// the `args` variable a filter set (APISIX).
    pub fn upstream_target(
        self,
        sent: &str,
        path: &str,
        written: bool,
        args: Option<&str>,
    ) -> String {
        match self {
            Self::Envoy => path.to_string(),
            // `proxy_pass` without a URI sends the request line as received.
            Self::Kong => sent.to_string(),
            Self::Apisix if !written => sent.to_string(),
            // `:path` went into `r->uri` whole, which nginx escapes; the query is `$args`.
            Self::Apisix => {
                let query = match args {
                    Some(args) => args,
                    None => sent.split_once('?').map_or("", |(_, q)| q),
                };
                let mut target = nginx_escape_uri(path);
                if !query.is_empty() {
                    target.push('?');
                    target.push_str(query);
                }
                target
            }
        }
    }

    /// Whether only the root context may set the tick period (Kong traps otherwise).
    pub fn tick_period_from_root_only(self) -> bool {
        matches!(self, Self::Kong)
    }
}

/// nginx's `ngx_escape_uri(…, NGX_ESCAPE_URI)`: control bytes, space, `#`, `%`, `?`,
/// DEL and every byte from 0x80.
fn nginx_escape_uri(uri: &str) -> String {
    let mut out = String::with_capacity(uri.len());
    for b in uri.bytes() {
        if b <= b' ' || matches!(b, b'#' | b'%' | b'?') || b >= 0x7f {
            out.push_str(&format!("%{b:02X}"));
        } else {
            out.push(char::from(b));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_host_sends_its_own_idea_of_a_rewritten_target() {
        let sent = "/a//b?t=secret&x=1";
        assert_eq!(
            Profile::Envoy.upstream_target(sent, "/a/b?x=1", true, None),
            "/a/b?x=1"
        );
        assert_eq!(
            Profile::Kong.upstream_target(sent, "/a/b?x=1", true, None),
            sent
        );
        assert_eq!(
            Profile::Apisix.upstream_target(sent, "/a/b?x=1", true, None),
            "/a/b%3Fx=1?t=secret&x=1"
        );
        assert_eq!(
            Profile::Apisix.upstream_target(sent, "/a b", true, Some("x=1")),
            "/a%20b?x=1"
        );
        assert_eq!(
            Profile::Apisix.upstream_target(sent, "/a b", true, Some("")),
            "/a%20b"
        );
        assert_eq!(
            Profile::Apisix.upstream_target(sent, sent, false, None),
            sent
        );
    }
}
