//! What one ECDS resource is: a `TypedExtensionConfig` holding an
//! `envoy.filters.http.wasm` config for one filter of one gateway group, with the
//! group's resolved config as the plugin configuration and the module named by digest.

use envoy_types::pb::envoy::config::core::v3::{
    AsyncDataSource, HttpUri, RemoteDataSource, RetryPolicy, TypedExtensionConfig,
    async_data_source, http_uri,
};
use envoy_types::pb::envoy::extensions::filters::http::wasm::v3::Wasm;
use envoy_types::pb::envoy::extensions::wasm::v3::{PluginConfig, VmConfig, plugin_config};
use envoy_types::pb::google::protobuf::{Any, BoolValue, Duration, StringValue, UInt32Value};

use crate::model::check_name;
use crate::modules::Module;

/// The resource type Envoy subscribes to with `config_discovery`.
pub const TYPE_URL: &str = "type.googleapis.com/envoy.config.core.v3.TypedExtensionConfig";
const WASM_TYPE_URL: &str = "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm";
const STRING_TYPE_URL: &str = "type.googleapis.com/google.protobuf.StringValue";
/// `FailurePolicy::FAIL_RELOAD`: a trapped VM is reloaded (with back-off) and its
/// requests fail closed meanwhile, as in every Envoy config Tollgate ships.
const FAIL_RELOAD: i32 = 3;

/// A resource name: `<project>/<group>/<filter>`, the name an Envoy bootstrap's
/// `config_discovery` subscribes to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Name {
    pub project: String,
    pub group: String,
    pub filter: String,
}

impl Name {
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut parts = text.split('/');
        let (Some(project), Some(group), Some(filter), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(format!(
                "resource `{text}`: expected <project>/<group>/<filter>"
            ));
        };
        check_name("project", project).map_err(|e| e.message)?;
        check_name("group", group).map_err(|e| e.message)?;
        if tollgate_catalog::find(filter).is_none() {
            return Err(format!(
                "resource `{text}`: no filter `{filter}` in the catalog"
            ));
        }
        Ok(Self {
            project: project.into(),
            group: group.into(),
            filter: filter.into(),
        })
    }
}

impl std::fmt::Display for Name {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}/{}", self.project, self.group, self.filter)
    }
}

/// Where gateways fetch modules.
#[derive(Debug, Clone, Copy)]
pub struct ModuleSource<'a> {
    /// This service's HTTP base URL as gateways reach it (`http://127.0.0.1:7070`).
    pub base_url: &'a str,
    /// The Envoy cluster that reaches it.
    pub cluster: &'a str,
}

fn any(type_url: &str, message: &impl prost::Message) -> Any {
    Any {
        type_url: type_url.into(),
        value: message.encode_to_vec(),
    }
}

/// The resource for `name`: the filter's module (by digest) with `config` (the resolved
/// config, JSON) as its plugin configuration.
pub fn wasm_resource(
    name: &Name,
    config: &[u8],
    module: &Module,
    source: ModuleSource<'_>,
) -> Result<Any, String> {
    let catalog = tollgate_catalog::find(&name.filter)
        .ok_or_else(|| format!("no filter `{}` in the catalog", name.filter))?;
    let text = std::str::from_utf8(config).map_err(|e| format!("{name}: config: {e}"))?;
    let code = AsyncDataSource {
        specifier: Some(async_data_source::Specifier::Remote(RemoteDataSource {
            http_uri: Some(HttpUri {
                uri: format!(
                    "{}/v1/modules/{}",
                    source.base_url.trim_end_matches('/'),
                    module.sha256
                ),
                timeout: Some(Duration {
                    seconds: 10,
                    nanos: 0,
                }),
                http_upstream_type: Some(http_uri::HttpUpstreamType::Cluster(
                    source.cluster.into(),
                )),
            }),
            sha256: module.sha256.clone(),
            retry_policy: Some(RetryPolicy {
                num_retries: Some(UInt32Value { value: 5 }),
                ..RetryPolicy::default()
            }),
        })),
    };
    let plugin = PluginConfig {
        // The stats prefix (`wasm.<name>.`) and the root id the filter registers.
        name: name.filter.clone(),
        root_id: name.filter.clone(),
        configuration: Some(any(STRING_TYPE_URL, &StringValue { value: text.into() })),
        failure_policy: FAIL_RELOAD,
        allow_on_headers_stop_iteration: catalog
            .holds_headers_for_body
            .then_some(BoolValue { value: true }),
        vm: Some(plugin_config::Vm::VmConfig(VmConfig {
            // One VM per filter and module: an update that keeps the module keeps the
            // VM and its shared data.
            vm_id: name.filter.clone(),
            runtime: "envoy.wasm.runtime.v8".into(),
            code: Some(code),
            ..VmConfig::default()
        })),
        ..PluginConfig::default()
    };
    let wasm = Wasm {
        config: Some(plugin),
    };
    Ok(any(
        TYPE_URL,
        &TypedExtensionConfig {
            name: name.to_string(),
            typed_config: Some(any(WASM_TYPE_URL, &wasm)),
        },
    ))
}
