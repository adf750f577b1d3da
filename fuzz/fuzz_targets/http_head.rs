//! The HTTP request-head path on arbitrary bytes: parse, analyze framing, extract the path,
//! and check the chunk-size parser. Accepted requests never have ambiguous framing.
#![no_main]

use bytes::BytesMut;
use l7_proxy::http::{analyze, parse_request};
use l7_proxy::io::chunk_size;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut buf = BytesMut::from(data);
    if let Ok(Some(head)) = parse_request(&mut buf) {
        let _ = head.path();
        if analyze(&head).is_ok() {
            let cl = head.header("content-length");
            let te = head.header("transfer-encoding");
            assert!(cl.is_none() || te.is_none(), "CL and TE both accepted");
        }
    }
    let _ = chunk_size(data);
});
