//! Unit tests of `slot`.

use super::*;

#[test]
fn running_streams_keep_their_config() {
    let slot = ConfigSlot::new();
    assert!(slot.current().is_none());
    assert_eq!(slot.replace("v1"), 1);
    let held = slot.current().unwrap();
    assert_eq!(slot.replace("v2"), 2);
    assert_eq!(*held, "v1");
    assert_eq!(*slot.current().unwrap(), "v2");
    assert_eq!(slot.generation(), 2);
}
