use super::*;
use crate::mock::MockHost;

fn doc(revision: u64, body: &[u8]) -> Document {
    Document {
        revision,
        etag: "\"abc\"".into(),
        signature: "h.c.s".into(),
        body: body.to_vec(),
    }
}

#[test]
fn a_document_survives_encoding_bodies_with_newlines_included() {
    for body in [&b""[..], b"{\"a\":1}", b"line\nline\n\n", &[0, 255, 10, 13]] {
        assert_eq!(Document::decode(&doc(7, body).encode()), Some(doc(7, body)));
    }
}

#[test]
fn anything_else_does_not_decode() {
    let good = doc(7, b"{}").encode();
    for bad in [
        &b""[..],
        b"tollgate-pull-2\n7\ne\ns\n{}",
        b"tollgate-pull-1\nseven\ne\ns\n{}",
        b"tollgate-pull-1\n7\ne",
        &good[..good.len() - 3],
    ] {
        assert_eq!(
            Document::decode(bad),
            None,
            "{:?}",
            String::from_utf8_lossy(bad)
        );
    }
}

#[test]
fn published_documents_are_read_with_a_version_that_moves() {
    for host in [MockHost::new(), MockHost::kong()] {
        assert_eq!(read(&host, "f"), None);
        publish(&host, "f", &doc(1, b"{}")).unwrap();
        let (v1, got) = read(&host, "f").unwrap();
        assert_eq!(got, doc(1, b"{}"));
        publish(&host, "f", &doc(2, b"{\"b\":2}")).unwrap();
        let (v2, got) = read(&host, "f").unwrap();
        assert_eq!(got.revision, 2);
        assert_ne!(v1, v2);
        assert_eq!(read(&host, "other"), None);
    }
    assert!(publish(&MockHost::apisix(), "f", &doc(1, b"{}")).is_err());
}

#[test]
fn a_publication_that_keeps_losing_gives_up_and_other_errors_say_what_failed() {
    let racing =
        MockHost::new().failing("proxy_set_shared_data", crate::types::Status::CasMismatch);
    assert_eq!(
        publish(&racing, "f", &doc(1, b"{}")),
        Err("shared data kept changing".into())
    );
    let broken = MockHost::new().failing(
        "proxy_set_shared_data",
        crate::types::Status::InternalFailure,
    );
    let e = publish(&broken, "f", &doc(1, b"{}")).unwrap_err();
    assert!(
        e.contains("proxy_set_shared_data") && !e.contains("kept changing"),
        "{e}"
    );
}
