//! HAProxy-style error responses: a short HTML page and `connection: close`.

/// The full response (head and body) for an error status.
pub fn error_response(status: u16) -> Vec<u8> {
    let (reason, text) = match status {
        400 => ("Bad request", "Your browser sent an invalid request."),
        408 => (
            "Request Timeout",
            "Your browser didn't send a complete request in time.",
        ),
        413 => (
            "Payload Too Large",
            "The request entity exceeds the maximum allowed size.",
        ),
        414 => ("URI Too Long", "The request URI is too long."),
        431 => (
            "Request Header Fields Too Large",
            "The request header fields are too large.",
        ),
        501 => (
            "Not Implemented",
            "The server does not support the functionality required to fulfill the request.",
        ),
        502 => (
            "Bad Gateway",
            "The server returned an invalid or incomplete response.",
        ),
        503 => (
            "Service Unavailable",
            "No server is available to handle this request.",
        ),
        504 => ("Gateway Timeout", "The server didn't respond in time."),
        _ => (
            "Internal Server Error",
            "An internal server error occurred.",
        ),
    };
    let body = format!("<html><body><h1>{status} {reason}</h1>\n{text}\n</body></html>\n");
    format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-length: {}\r\ncache-control: no-cache\r\ncontent-type: text/html\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

#[cfg(test)]
mod tests {
    #[test]
    fn content_length_matches_body() {
        for s in [400, 408, 413, 414, 431, 501, 502, 503, 504, 500] {
            let r = String::from_utf8(super::error_response(s)).unwrap_or_default();
            let (head, body) = r.split_once("\r\n\r\n").unwrap_or_default();
            assert!(head.starts_with(&format!("HTTP/1.1 {s} ")));
            assert!(head.contains(&format!("content-length: {}\r\n", body.len())));
        }
    }
}
