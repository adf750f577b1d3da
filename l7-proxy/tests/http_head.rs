//! The request-head path never panics on arbitrary bytes.
#![allow(clippy::unwrap_used)]

use bytes::BytesMut;
use l7_proxy::http::{analyze, parse_request};
use l7_proxy::io::chunk_size;
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes(data in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let mut b = BytesMut::from(&data[..]);
        if let Ok(Some(h)) = parse_request(&mut b) {
            let _ = analyze(&h);
            let _ = h.path();
        }
        let _ = chunk_size(&data);
    }

    #[test]
    fn plausible_heads(
        method in "[A-Z]{1,8}",
        path in "/[ -~]{0,40}",
        headers in proptest::collection::vec(
            (prop_oneof![Just("Content-Length".to_string()), Just("Transfer-Encoding".to_string()),
                         Just("Connection".to_string()), Just("Host".to_string()), Just("Expect".to_string()),
                         Just("Upgrade".to_string()), "[a-zA-Z-]{1,12}"],
             "[ -~]{0,30}"),
            0..8)
    ) {
        let mut s = format!("{method} {path} HTTP/1.1\r\n");
        for (n, v) in &headers {
            s.push_str(&format!("{n}: {v}\r\n"));
        }
        s.push_str("\r\n");
        let mut b = BytesMut::from(s.as_bytes());
        if let Ok(Some(h)) = parse_request(&mut b) {
            match analyze(&h) {
                Ok(info) => {
                    // Accepted heads never carry ambiguous framing.
                    let cl = h.header("content-length");
                    let te = h.header("transfer-encoding");
                    prop_assert!(cl.is_none() || te.is_none());
                    let _ = info;
                }
                Err(code) => prop_assert!([400u16, 413, 501].contains(&code)),
            }
        }
    }
}

/// Found by the `http_head` fuzz target: an empty Transfer-Encoding beside a Content-Length
/// was ignored, and would have been forwarded for the server to frame its own way.
#[test]
fn empty_transfer_encoding_is_rejected() {
    for head in [
        &b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 7\r\nTransfer-Encoding:\r\n\r\n"[..],
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: ,\r\nContent-Length: 7\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \r\n\r\n",
    ] {
        let mut buf = BytesMut::from(head);
        let parsed = parse_request(&mut buf)
            .expect("parses")
            .expect("complete head");
        assert_eq!(
            analyze(&parsed).map(|_| ()),
            Err(400),
            "{}",
            String::from_utf8_lossy(head)
        );
    }
}
