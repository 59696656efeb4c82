//! The kernel's message selection against a model of its documented rules, on random
//! sequences of sends and receives (proptest).

use ipckit::sysv::msg::{MsgQueue, Select};
use ipckit::{Key, Mode, NotNow};
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum Step {
    Send(i64, Vec<u8>),
    Recv(Select),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => (1i64..=6, proptest::collection::vec(any::<u8>(), 0..48)).prop_map(|(t, b)| Step::Send(t, b)),
        2 => prop_oneof![
            Just(Select::Any),
            (1i64..=6).prop_map(Select::Type),
            (1i64..=6).prop_map(Select::UpTo),
            (1i64..=6).prop_map(Select::Except),
        ]
        .prop_map(Step::Recv),
    ]
}

/// msgrcv(2): which queued message a selector takes, if any.
fn model_pick(queue: &[(i64, Vec<u8>)], select: Select) -> Option<usize> {
    match select {
        Select::Any => (!queue.is_empty()).then_some(0),
        Select::Type(t) => queue.iter().position(|m| m.0 == t),
        Select::Except(t) => queue.iter().position(|m| m.0 != t),
        Select::UpTo(n) => {
            let lowest = queue.iter().map(|m| m.0).filter(|&t| t <= n).min()?;
            queue.iter().position(|m| m.0 == lowest)
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn selection_follows_the_documented_rules(steps in proptest::collection::vec(step(), 1..40)) {
        let mut q = MsgQueue::create(Key::PRIVATE, Mode::OWNER_RW).unwrap();
        q.set_remove_on_drop(true).unwrap();
        let mut model: Vec<(i64, Vec<u8>)> = Vec::new();
        let mut buf = [0u8; 64];
        for s in steps {
            match s {
                Step::Send(t, body) => {
                    q.try_send(&body, t).unwrap();
                    model.push((t, body));
                }
                Step::Recv(sel) => {
                    let got = q.try_recv(&mut buf, sel).now().unwrap_or_else(|e| panic!("{e}"));
                    let want = model_pick(&model, sel).map(|i| model.remove(i));
                    let got = got.map(|r| (r.mtype, buf[..r.len].to_vec()));
                    prop_assert_eq!(got, want, "selector {:?}", sel);
                }
            }
        }
        prop_assert_eq!(q.stat().unwrap().qnum as usize, model.len());
    }

    #[test]
    fn keys_print_and_parse_back(raw in any::<i32>()) {
        let k = Key::from_raw(raw);
        prop_assert_eq!(k.to_string().parse::<Key>().unwrap(), k);
        prop_assert_eq!(raw.to_string().parse::<Key>().unwrap(), k);
    }
}
