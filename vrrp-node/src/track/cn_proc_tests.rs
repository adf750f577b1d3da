use super::*;

/// One netlink message carrying a process event `what` with `data`, as the kernel sends it.
fn event(what: u32, data: &[u8]) -> Vec<u8> {
    let cn_len = 16 + data.len();
    let nl_len = 16 + 20 + cn_len;
    let mut b = Vec::new();
    b.extend((nl_len as u32).to_ne_bytes());
    b.extend(3u16.to_ne_bytes()); // NLMSG_DONE
    b.extend(0u16.to_ne_bytes());
    b.extend(7u32.to_ne_bytes()); // seq
    b.extend(0u32.to_ne_bytes()); // from the kernel
    b.extend(CN_IDX_PROC.to_ne_bytes());
    b.extend(CN_VAL_PROC.to_ne_bytes());
    b.extend(42u32.to_ne_bytes()); // cn seq
    b.extend(0u32.to_ne_bytes()); // ack
    b.extend((cn_len as u16).to_ne_bytes());
    b.extend(0u16.to_ne_bytes());
    b.extend(what.to_ne_bytes());
    b.extend(1u32.to_ne_bytes()); // cpu
    b.extend(123_456_789u64.to_ne_bytes()); // timestamp
    b.extend(data);
    b
}

fn words(w: &[u32]) -> Vec<u8> {
    w.iter().flat_map(|x| x.to_ne_bytes()).collect()
}

fn all(datagram: &[u8]) -> Vec<Result<ProcEvent, WireError>> {
    events(datagram).collect()
}

/// What a 6.x kernel sent back to PROC_CN_MCAST_LISTEN (captured on x86-64): a
/// PROC_EVENT_NONE with ack.err 0 and the connector's ack 1.
#[cfg(target_endian = "little")]
#[test]
fn a_real_subscription_answer_parses_as_an_ack() {
    let mut bytes = vec![
        0x4c, 0, 0, 0, 0x03, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // nlmsghdr: len 76, DONE
        0x01, 0, 0, 0, 0x01, 0, 0, 0, 0, 0, 0, 0, 0x01, 0, 0, 0, 0x28, 0, 0, 0, // cn_msg
        0, 0, 0, 0, 0x01, 0, 0, 0, 0x2f, 0xd9, 0xca, 0xcd, 0xb3, 0x08, 0, 0, // proc_event
    ];
    bytes.resize(76, 0);
    let nl = NetlinkPacket::new_checked(&bytes[..]).expect("netlink");
    assert_eq!((nl.len(), nl.msg_type()), (76, 3));
    let cn = ConnectorPacket::new_checked(nl.payload()).expect("cn_msg");
    assert_eq!((cn.id(), cn.seq(), cn.ack()), ((1, 1), 0, 1));
    assert_eq!(cn.data().len(), 40);
    let ev = ProcEventPacket::new_checked(cn.data()).expect("event");
    assert_eq!((ev.what(), ev.cpu()), (0, 1));
    assert_eq!(all(&bytes), [Ok(ProcEvent::Ack { err: 0 })]);
}

#[test]
fn fork_exec_comm_and_exit_parse_with_their_pids() {
    let mut comm = [0u8; 16];
    comm[..7].copy_from_slice(b"haproxy");
    let mut comm_data = words(&[300, 300]);
    comm_data.extend(comm);
    let mut datagram = event(0x1, &words(&[100, 100, 300, 300]));
    datagram.extend(event(0x2, &words(&[300, 300])));
    datagram.extend(event(0x200, &comm_data));
    datagram.extend(event(0x8000_0000, &words(&[300, 300, 9, 9, 100, 100])));
    datagram.extend(event(0x4, &words(&[300, 300, 0, 0]))); // uid change
    assert_eq!(
        all(&datagram),
        [
            Ok(ProcEvent::Fork {
                parent_tgid: 100,
                child_pid: 300,
                child_tgid: 300
            }),
            Ok(ProcEvent::Exec {
                pid: 300,
                tgid: 300
            }),
            Ok(ProcEvent::Comm {
                pid: 300,
                tgid: 300,
                comm
            }),
            Ok(ProcEvent::Exit {
                pid: 300,
                tgid: 300
            }),
            Ok(ProcEvent::Other { what: 4 }),
        ]
    );
}

#[test]
fn short_and_lying_messages_are_errors_not_panics() {
    let exec = event(0x2, &words(&[5, 5]));
    // The netlink header itself cut short, or claiming more or fewer bytes than there are.
    assert_eq!(all(&exec[..10]), [Err(WireError::Truncated("netlink"))]);
    let mut long = exec.clone();
    long[0..4].copy_from_slice(&1000u32.to_ne_bytes());
    assert_eq!(all(&long), [Err(WireError::BadLength("netlink", 1000))]);
    let mut tiny = exec.clone();
    tiny[0..4].copy_from_slice(&8u32.to_ne_bytes());
    assert_eq!(all(&tiny), [Err(WireError::BadLength("netlink", 8))]);
    // The cn_msg length past the message: that message is dropped, the next one read.
    let mut bad_cn = exec.clone();
    bad_cn[16 + 16..16 + 18].copy_from_slice(&500u16.to_ne_bytes());
    bad_cn.extend(&exec);
    assert_eq!(
        all(&bad_cn),
        [
            Err(WireError::BadLength("cn_msg", 500)),
            Ok(ProcEvent::Exec { pid: 5, tgid: 5 })
        ]
    );
    // An exec with half its data; a fork with an exec's.
    assert_eq!(
        all(&event(0x2, &words(&[5]))),
        [Err(WireError::ShortEvent { what: 2, len: 4 })]
    );
    assert_eq!(
        all(&event(0x1, &words(&[5, 5]))),
        [Err(WireError::ShortEvent { what: 1, len: 8 })]
    );
    // A connector message too short for the event header.
    let mut headless = exec[..16 + 20 + 8].to_vec();
    let len = headless.len() as u32;
    headless[0..4].copy_from_slice(&len.to_ne_bytes());
    headless[16 + 16..16 + 18].copy_from_slice(&8u16.to_ne_bytes());
    assert_eq!(all(&headless), [Err(WireError::Truncated("proc_event"))]);
}

#[test]
fn other_connectors_and_netlink_noops_are_skipped() {
    let mut other = event(0x2, &words(&[5, 5]));
    other[16..20].copy_from_slice(&4u32.to_ne_bytes()); // another connector idx
    let mut noop = event(0x2, &words(&[6, 6]));
    noop[4..6].copy_from_slice(&1u16.to_ne_bytes());
    let mut datagram = other;
    datagram.extend(noop);
    datagram.extend(event(0x2, &words(&[7, 7])));
    assert_eq!(all(&datagram), [Ok(ProcEvent::Exec { pid: 7, tgid: 7 })]);
    assert!(all(&[]).is_empty());
}

#[test]
fn every_cut_of_a_datagram_and_random_bytes_parse_without_panic() {
    let mut datagram = event(0x1, &words(&[1, 1, 2, 2]));
    datagram.extend(event(0x200, &[0u8; 24]));
    for cut in 0..=datagram.len() {
        for item in events(&datagram[..cut]) {
            let _ = item;
        }
    }
    // A small linear congruential generator: the same bytes each run.
    let mut x: u32 = 0x1234_5678;
    for _ in 0..2000 {
        let len = (x % 200) as usize;
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (x >> 24) as u8
            })
            .collect();
        assert!(events(&bytes).count() <= bytes.len() / 16 + 1);
    }
}

#[test]
fn the_subscription_message_reads_back() {
    let msg = mcast_message(McastOp::Listen, 4242);
    let nl = NetlinkPacket::new_checked(&msg[..]).expect("netlink");
    assert_eq!((nl.len(), nl.msg_type()), (MCAST_MESSAGE_LEN, 3));
    assert_eq!(u32_at(&msg, field::NL_PID), 4242);
    let cn = ConnectorPacket::new_checked(nl.payload()).expect("cn_msg");
    assert_eq!(cn.id(), (CN_IDX_PROC, CN_VAL_PROC));
    assert_eq!(cn.data(), 1u32.to_ne_bytes());
    let ignore = mcast_message(McastOp::Ignore, 1);
    assert_eq!(&ignore[36..], 2u32.to_ne_bytes());
}
