use super::*;

fn published(scope: &str, at_ns: u64) -> Published {
    Published {
        scopes: vec![scope.to_string()],
        at_ns,
    }
}

#[tokio::test]
async fn memory_entries_expire_and_are_bounded() {
    let b = Backend::memory(2, Duration::from_secs(60));
    assert_eq!(b.get("a").await, Ok(None));
    b.put("a", b"1", Duration::from_secs(60)).await.unwrap();
    assert_eq!(b.get("a").await, Ok(Some(b"1".to_vec())));
    b.put("b", b"2", Duration::from_secs(60)).await.unwrap();
    assert!(
        b.put("c", b"3", Duration::from_secs(60)).await.is_err(),
        "full"
    );
    b.put("a", b"1b", Duration::from_secs(60)).await.unwrap();
    assert_eq!(b.get("a").await, Ok(Some(b"1b".to_vec())));
}

#[tokio::test]
async fn the_log_is_read_by_cursor_from_where_a_gateway_left() {
    let b = Backend::memory(10, Duration::from_secs(3600));
    let start = b.page(&From::Since(0)).await.unwrap();
    assert!(start.items.is_empty());
    b.publish(&published("u h /a", 1)).await.unwrap();
    b.publish(&published("u h /b", 2)).await.unwrap();
    let first = b.page(&From::Since(0)).await.unwrap();
    assert_eq!(
        first.items,
        vec![published("u h /a", 1), published("u h /b", 2)]
    );
    let empty = b.page(&From::After(first.next.clone())).await.unwrap();
    assert!(empty.items.is_empty());
    assert_eq!(empty.next, first.next, "the cursor stays");
    b.publish(&published("u h /c", 3)).await.unwrap();
    let more = b.page(&From::After(first.next)).await.unwrap();
    assert_eq!(more.items, vec![published("u h /c", 3)]);
    assert!(b.page(&From::After("garbage".into())).await.is_err());
}
