//! ECDS over a real gRPC socket: authentication, the resource a gateway receives, a
//! new revision pushed on the open stream, ACK and NACK (with Envoy's reason) in the
//! fleet view, and modules served by digest.

use std::sync::Arc;
use std::time::Duration;

use envoy_types::pb::envoy::config::core::v3::{Node, TypedExtensionConfig, async_data_source};
use envoy_types::pb::envoy::extensions::filters::http::wasm::v3::Wasm;
use envoy_types::pb::envoy::extensions::wasm::v3::plugin_config;
use envoy_types::pb::envoy::service::discovery::v3::{DiscoveryRequest, DiscoveryResponse};
use envoy_types::pb::envoy::service::extension::v3::extension_config_discovery_service_client::ExtensionConfigDiscoveryServiceClient;
use envoy_types::pb::google::protobuf::StringValue;
use envoy_types::pb::google::rpc::Status as RpcStatus;
use prost::Message as _;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tollgate_control::Settings;
use tollgate_control::auth::{Grant, Role};
use tollgate_control::ecds::EcdsSettings;
use tollgate_control::ecds::resource::TYPE_URL;
use tollgate_control::modules::Modules;
use tollgate_control::store::SqliteStore;

use crate::common::{Harness, jwt_config};

const MODULE: &[u8] = b"\0asm\x01\0\0\0 not really jwt-auth";
const NAME: &str = "hcp/prod-eu/jwt-auth";
const CONFIG: &str = "/v1/projects/hcp/groups/prod-eu/configs/jwt-auth";
const STATUS: &str = "/v1/projects/hcp/groups/prod-eu/status";

pub struct Fleet {
    pub h: Harness,
    pub url: String,
    _modules: tempfile::TempDir,
}

pub async fn fleet() -> Fleet {
    let modules = tempfile::tempdir().unwrap();
    std::fs::write(modules.path().join("jwt-auth.wasm"), MODULE).unwrap();
    let settings = Settings {
        ecds: EcdsSettings {
            modules: Arc::new(Modules::load(modules.path()).unwrap()),
            module_base_url: "http://control.test:7070/".into(),
            module_cluster: "control".into(),
            recheck: Duration::from_secs(30),
            ..EcdsSettings::default()
        },
        ..Settings::default()
    };
    let h = Harness::with(Arc::new(SqliteStore::memory().unwrap()), settings).await;
    h.project(false).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(tollgate_control::ecds::serve(listener, h.ctl.clone()));
    Fleet {
        h,
        url,
        _modules: modules,
    }
}

pub async fn push(h: &Harness, config: &Value, if_match: Option<&str>) -> u64 {
    let r = h.put_json(CONFIG, &h.admin, if_match, config).await;
    assert!(r.status.is_success(), "{:?}", r.json());
    r.json()["revision"]["number"].as_u64().unwrap()
}

/// An open stream: requests in, responses out.
pub struct Stream {
    pub tx: mpsc::Sender<DiscoveryRequest>,
    pub rx: tonic::Streaming<DiscoveryResponse>,
}

async fn open(url: &str, token: Option<&str>) -> Result<Stream, tonic::Status> {
    open_as(url, token, "envoy-1").await
}

/// A stream of gateway `node`.
pub async fn open_as(url: &str, token: Option<&str>, node: &str) -> Result<Stream, tonic::Status> {
    let channel = tonic::transport::Channel::from_shared(url.to_string())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut client = ExtensionConfigDiscoveryServiceClient::new(channel);
    let (tx, rx) = mpsc::channel(4);
    let mut request = tonic::Request::new(tokio_stream::wrappers::ReceiverStream::new(rx));
    if let Some(t) = token {
        request
            .metadata_mut()
            .insert("authorization", format!("Bearer {t}").parse().unwrap());
    }
    tx.send(ask_as(node, "", None)).await.unwrap();
    let rx = client.stream_extension_configs(request).await?.into_inner();
    Ok(Stream { tx, rx })
}

fn ask(nonce: &str, nack: Option<&str>) -> DiscoveryRequest {
    ask_as("envoy-1", nonce, nack)
}

/// A request of gateway `node`: the first (no nonce), an ACK, or a NACK.
pub fn ask_as(node: &str, nonce: &str, nack: Option<&str>) -> DiscoveryRequest {
    DiscoveryRequest {
        node: Some(Node {
            id: node.into(),
            cluster: "edge".into(),
            ..Node::default()
        }),
        resource_names: vec![NAME.into()],
        type_url: TYPE_URL.into(),
        response_nonce: nonce.into(),
        error_detail: nack.map(|m| RpcStatus {
            code: 3,
            message: m.into(),
            details: vec![],
        }),
        ..DiscoveryRequest::default()
    }
}

pub async fn next(stream: &mut Stream) -> Result<DiscoveryResponse, tonic::Status> {
    tokio::time::timeout(Duration::from_secs(10), stream.rx.message())
        .await
        .expect("a response within 10 s")
        .map(|m| m.expect("the stream stays open"))
}

/// The plugin configuration and the module digest of the response's one resource.
pub fn unpack(response: &DiscoveryResponse) -> (Value, String, String) {
    assert_eq!(response.type_url, TYPE_URL);
    assert_eq!(response.resources.len(), 1);
    let any = &response.resources[0];
    assert_eq!(any.type_url, TYPE_URL);
    let typed = TypedExtensionConfig::decode(any.value.as_slice()).unwrap();
    assert_eq!(typed.name, NAME);
    let inner = typed.typed_config.unwrap();
    assert_eq!(
        inner.type_url,
        "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm"
    );
    let plugin = Wasm::decode(inner.value.as_slice())
        .unwrap()
        .config
        .unwrap();
    assert_eq!(
        (plugin.name.as_str(), plugin.root_id.as_str()),
        ("jwt-auth", "jwt-auth")
    );
    assert_eq!(plugin.failure_policy, 3, "FAIL_RELOAD");
    let configuration = plugin.configuration.unwrap();
    let text = StringValue::decode(configuration.value.as_slice())
        .unwrap()
        .value;
    let Some(plugin_config::Vm::VmConfig(vm)) = plugin.vm else {
        panic!("no vm_config")
    };
    assert_eq!(vm.runtime, "envoy.wasm.runtime.v8");
    let Some(async_data_source::Specifier::Remote(remote)) = vm.code.unwrap().specifier else {
        panic!("the module is not remote")
    };
    let uri = remote.http_uri.unwrap();
    assert_eq!(
        uri.uri,
        format!("http://control.test:7070/v1/modules/{}", remote.sha256)
    );
    (serde_json::from_str(&text).unwrap(), remote.sha256, uri.uri)
}

/// The fleet view once `done` holds for it (bounded: 100 tries, 50 ms apart).
async fn status_when(h: &Harness, done: impl Fn(&Value) -> bool) -> Value {
    let mut last = Value::Null;
    for _ in 0..100 {
        last = h.get(STATUS, &h.admin).await.json();
        if done(&last) {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the fleet view never got there: {last:#}");
}

#[tokio::test]
async fn a_gateway_gets_its_config_pushed_and_its_acks_and_nacks_are_in_the_fleet_view() {
    let f = fleet().await;
    let h = &f.h;
    let config = jwt_config();
    assert_eq!(push(h, &config, None).await, 1);
    let token = h.gateway("envoy-1").await;
    let mut stream = open(&f.url, Some(&token)).await.unwrap();

    let first = next(&mut stream).await.unwrap();
    let (got, sha, uri) = unpack(&first);
    assert_eq!(
        got, config,
        "the plugin configuration is the resolved config"
    );
    assert_eq!(sha, tollgate_control::docs::digest(MODULE));
    // The module it names is served under that digest.
    let module = h
        .send(
            "GET",
            &uri.replace("http://control.test:7070", ""),
            None,
            &[],
            vec![],
        )
        .await;
    assert_eq!(module.status, 200);
    assert_eq!(module.body, MODULE);
    assert_eq!(module.headers["content-type"], "application/wasm");
    let missing = h
        .send(
            "GET",
            &format!("/v1/modules/{}", "0".repeat(64)),
            None,
            &[],
            vec![],
        )
        .await;
    assert_eq!(missing.status, 404);

    // Connected, nothing applied yet.
    let view = status_when(h, |v| v["gateways"][0]["connected"] == true).await;
    assert_eq!(view["gateways"][0]["gateway"], "envoy-1");
    assert_eq!(view["gateways"][0]["via"], "ecds");
    assert_eq!(view["gateways"][0]["up_to_date"], false);
    assert_eq!(view["revisions"]["jwt-auth"], 1);

    stream.tx.send(ask(&first.nonce, None)).await.unwrap();
    let view = status_when(h, |v| {
        v["gateways"][0]["filters"]["jwt-auth"]["revision"] == 1
    })
    .await;
    assert_eq!(view["gateways"][0]["up_to_date"], true);
    assert_eq!(view["summary"]["up_to_date"], 1);
    assert_eq!(view["summary"]["failed"], 0);

    // A new revision reaches the open stream by itself.
    let mut second_config = config.clone();
    second_config["providers"]["hcp"]["forward"] = json!(true);
    assert_eq!(push(h, &second_config, Some("\"1\"")).await, 2);
    let second = next(&mut stream).await.unwrap();
    assert_ne!(second.version_info, first.version_info);
    assert_eq!(unpack(&second).0, second_config);

    // Envoy refuses it: the reason is in the fleet view, and the gateway still runs 1.
    let reason = "Unable to create Wasm plugin jwt-auth";
    stream
        .tx
        .send(ask(&second.nonce, Some(reason)))
        .await
        .unwrap();
    let view = status_when(h, |v| {
        !v["gateways"][0]["filters"]["jwt-auth"]["error"].is_null()
    })
    .await;
    let filter = &view["gateways"][0]["filters"]["jwt-auth"];
    assert_eq!(filter["revision"], 1);
    assert_eq!(filter["current"], false);
    assert_eq!(filter["error"]["revision"], 2);
    assert_eq!(filter["error"]["detail"], reason);
    assert_eq!(view["summary"]["failed"], 1);
    assert_eq!(view["summary"]["up_to_date"], 0);
    // `tollgate status --project hcp --group prod-eu` shows it.
    let text = tollgate_control::cli::fleet_text(&view);
    assert!(
        text.contains("1 gateways: 0 up to date, 1 failed, 0 stale"),
        "{text}"
    );
    assert!(
        text.contains("envoy-1") && text.contains("ecds") && text.contains("behind"),
        "{text}"
    );
    assert!(
        text.contains(&format!("jwt-auth         runs 1; REFUSED 2: {reason}")),
        "{text}"
    );

    // A refused version is not sent again; a fixed one is, and its ACK clears the error.
    let mut third_config = config.clone();
    third_config["providers"]["hcp"]["forward"] = json!(false);
    assert_eq!(push(h, &third_config, Some("\"2\"")).await, 3);
    let third = next(&mut stream).await.unwrap();
    stream.tx.send(ask(&third.nonce, None)).await.unwrap();
    let view = status_when(h, |v| {
        v["gateways"][0]["filters"]["jwt-auth"]["revision"] == 3
    })
    .await;
    assert!(view["gateways"][0]["filters"]["jwt-auth"]["error"].is_null());
    assert_eq!(view["summary"]["failed"], 0);

    // The gateway goes away: it is no longer connected.
    drop(stream);
    status_when(h, |v| v["gateways"][0]["connected"] == false).await;
}

#[tokio::test]
async fn streams_need_a_gateway_token_of_the_resource_project() {
    let f = fleet().await;
    let h = &f.h;
    push(h, &jwt_config(), None).await;
    let none = open(&f.url, None).await.err().unwrap();
    assert_eq!(none.code(), tonic::Code::Unauthenticated);
    let bad = open(&f.url, Some("tgt_nope_nope")).await.err().unwrap();
    assert_eq!(bad.code(), tonic::Code::Unauthenticated);

    // A gateway of another project, and an admin (who may not read secrets), get none.
    let other = h
        .token(
            "other",
            vec![Grant {
                role: Role::Gateway,
                project: Some("other".into()),
            }],
        )
        .await;
    for token in [other.as_str(), h.admin.as_str()] {
        let mut stream = open(&f.url, Some(token)).await.unwrap();
        let refused = next(&mut stream).await.unwrap_err();
        assert_eq!(refused.code(), tonic::Code::PermissionDenied, "{refused:?}");
    }
}

#[tokio::test]
async fn a_group_without_the_config_yet_gets_it_when_it_is_pushed() {
    let f = fleet().await;
    let h = &f.h;
    let token = h.gateway("envoy-1").await;
    let mut stream = open(&f.url, Some(&token)).await.unwrap();
    // Nothing is sent before the config exists (Envoy would take an empty answer as a
    // failed first fetch), then the config is.
    let early = tokio::time::timeout(Duration::from_millis(300), stream.rx.message()).await;
    assert!(
        early.is_err(),
        "nothing before the config exists: {early:?}"
    );
    push(h, &jwt_config(), None).await;
    let first = next(&mut stream).await.unwrap();
    assert_eq!(unpack(&first).0, jwt_config());
}
