use super::*;

fn wait(id: u32, deadline_ns: u64) -> Rc<RefCell<Wait>> {
    Rc::new(RefCell::new(Wait {
        context_id: id,
        key: [0; 32],
        deadline_ns,
        request: Vec::new(),
        credentials: None,
        outcome: None,
    }))
}

#[test]
fn ready_ones_go_gone_ones_drop_the_rest_wait() {
    let mut w = Waiters::default();
    assert!(w.is_empty());
    let (a, b) = (wait(1, 10), wait(2, 20));
    w.hold(&a);
    w.hold(&b);
    {
        let gone = wait(3, 5);
        w.hold(&gone);
    }
    assert!(!w.is_empty());
    let ready = w.take(|x| x.deadline_ns <= 10);
    assert_eq!(ready.len(), 1);
    assert_eq!(ready[0].borrow().context_id, 1);
    assert_eq!(w.take(|_| false).len(), 0);
    drop(b);
    assert!(w.is_empty(), "its stream is gone");
}
