use envoy_types::pb::envoy::config::core::v3::Node;
use envoy_types::pb::google::rpc::Status;

use super::*;

fn request(names: &[&str], nonce: &str, nack: Option<&str>) -> DiscoveryRequest {
    DiscoveryRequest {
        node: Some(Node {
            id: "envoy-1".into(),
            ..Node::default()
        }),
        resource_names: names.iter().map(|n| n.to_string()).collect(),
        type_url: TYPE_URL.into(),
        response_nonce: nonce.into(),
        error_detail: nack.map(|m| Status {
            code: 3,
            message: m.into(),
            details: vec![],
        }),
        ..DiscoveryRequest::default()
    }
}

fn built(name: &str, revision: u64) -> Built {
    Built {
        name: Name::parse(name).unwrap(),
        revision,
        version: format!("{revision}.abc"),
        resource: Any {
            type_url: TYPE_URL.into(),
            value: revision.to_be_bytes().to_vec(),
        },
    }
}

const JWT: &str = "hcp/prod/jwt-auth";

#[test]
fn the_first_request_subscribes_and_names_the_node() {
    let mut s = Session::default();
    let step = s.on_request(&request(&[JWT], "", None)).unwrap();
    assert_eq!(step.verdict, Verdict::None);
    assert!(step.resubscribed);
    assert!(step.rejected.is_empty());
    assert_eq!(s.node(), Some("envoy-1"));
    assert_eq!(s.names().map(|n| n.to_string()).collect::<Vec<_>>(), [JWT]);
}

#[test]
fn a_request_without_a_node_id_or_of_another_type_ends_the_stream() {
    let mut no_node = request(&[JWT], "", None);
    no_node.node = None;
    assert!(
        Session::default()
            .on_request(&no_node)
            .unwrap_err()
            .contains("node id")
    );
    let mut other = request(&[JWT], "", None);
    other.type_url = "type.googleapis.com/envoy.config.listener.v3.Listener".into();
    assert!(
        Session::default()
            .on_request(&other)
            .unwrap_err()
            .contains("serves")
    );
}

#[test]
fn names_that_are_not_resources_are_rejected_and_the_rest_kept() {
    let mut s = Session::default();
    let step = s
        .on_request(&request(
            &[JWT, "hcp/prod/nope", "a/b", "HCP/prod/jwt-auth"],
            "",
            None,
        ))
        .unwrap();
    assert_eq!(step.rejected.len(), 3, "{:?}", step.rejected);
    assert_eq!(s.names().count(), 1);
}

#[test]
fn an_ack_or_a_nack_names_what_was_sent_under_its_nonce() {
    let mut s = Session::default();
    s.on_request(&request(&[JWT], "", None)).unwrap();
    let sent = s.respond(vec![built(JWT, 1)], false).unwrap();
    assert_eq!(sent.type_url, TYPE_URL);
    assert_eq!(sent.resources.len(), 1);
    let ack = s.on_request(&request(&[JWT], &sent.nonce, None)).unwrap();
    assert_eq!(ack.verdict, Verdict::Ack(vec![built(JWT, 1)]));
    assert!(
        !ack.resubscribed,
        "the same names again are no new subscription"
    );

    let second = s.respond(vec![built(JWT, 2)], false).unwrap();
    assert_ne!(second.nonce, sent.nonce);
    assert_ne!(second.version_info, sent.version_info);
    let nack = s
        .on_request(&request(&[JWT], &second.nonce, Some("bad config")))
        .unwrap();
    assert_eq!(
        nack.verdict,
        Verdict::Nack(vec![built(JWT, 2)], "bad config".into())
    );
    // A request about an older response acknowledges nothing.
    let stale = s.on_request(&request(&[JWT], &sent.nonce, None)).unwrap();
    assert_eq!(stale.verdict, Verdict::None);
}

#[test]
fn an_unchanged_set_is_not_sent_again_unless_forced() {
    let mut s = Session::default();
    s.on_request(&request(&[JWT], "", None)).unwrap();
    assert!(s.respond(vec![built(JWT, 1)], false).is_some());
    assert!(s.respond(vec![built(JWT, 1)], false).is_none());
    assert!(s.respond(vec![built(JWT, 1)], true).is_some());
    assert!(s.respond(vec![built(JWT, 2)], false).is_some());
    // Nothing to send is never sent.
    assert!(s.respond(vec![], true).is_none());
    assert!(s.respond(vec![built(JWT, 2)], false).is_none());
}

#[test]
fn a_changed_subscription_asks_for_a_response() {
    let mut s = Session::default();
    s.on_request(&request(&[JWT], "", None)).unwrap();
    let sent = s.respond(vec![built(JWT, 1)], false).unwrap();
    let step = s
        .on_request(&request(&[JWT, "hcp/prod/rate-limit"], &sent.nonce, None))
        .unwrap();
    assert!(step.resubscribed);
    assert_eq!(s.names().count(), 2);
}
