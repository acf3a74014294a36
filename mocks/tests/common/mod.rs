//! Test helpers: a tiny HTTP/1.1 client over `TcpStream` and SHEP envelope builders.

#![allow(dead_code)]

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A parsed HTTP response.
#[derive(Debug)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl HttpResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A SendMessage request for `iin` with this message id.
pub fn send_message(message_id: &str, iin: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">
  <soapenv:Body>
    <typ:SendMessage xmlns:typ="http://bip.bee.kz/SyncChannel/v10/Types">
      <request>
        <requestInfo>
          <messageId>{message_id}</messageId>
          <serviceId>TEST_SERVICE</serviceId>
          <messageDate>2026-11-25T18:40:00.000+05:00</messageDate>
          <sender><senderId>gateway-tests</senderId></sender>
          <properties><key>traceparent</key><value>00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01</value></properties>
          <sessionId>session-1</sessionId>
        </requestInfo>
        <requestData><data><iin>{iin}</iin></data></requestData>
      </request>
    </typ:SendMessage>
  </soapenv:Body>
</soapenv:Envelope>"#
    )
}

fn request_bytes(method: &str, path: &str, body: &str, content_type: &str, close: bool) -> Vec<u8> {
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n",
        body.len()
    );
    if path.ends_with("/shep") {
        head.push_str("SOAPAction: \"SendMessage\"\r\n");
    }
    if close {
        head.push_str("Connection: close\r\n");
    }
    head.push_str("\r\n");
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(body.as_bytes());
    bytes
}

/// Sends one request with `Connection: close` and returns everything the server wrote before
/// closing (empty if it closed without an answer; a reset also counts as no answer).
pub async fn raw(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: &str,
    content_type: &str,
) -> std::io::Result<Vec<u8>> {
    let mut stream = TcpStream::connect(addr).await?;
    stream
        .write_all(&request_bytes(method, path, body, content_type, true))
        .await?;
    let mut out = Vec::new();
    match stream.read_to_end(&mut out).await {
        Ok(_) => Ok(out),
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => Ok(out),
        Err(e) => Err(e),
    }
}

/// Parses a complete HTTP/1.1 response (Content-Length or chunked body).
pub fn parse(bytes: &[u8]) -> HttpResponse {
    let split = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no end of headers in {:?}", String::from_utf8_lossy(bytes)));
    let head = std::str::from_utf8(&bytes[..split]).expect("ASCII headers");
    let mut lines = head.split("\r\n");
    let status_line = lines.next().expect("status line");
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let rest = &bytes[split + 4..];
    let chunked = headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    let body = if chunked {
        dechunk(rest)
    } else {
        let len = headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
            .map(|(_, v)| v.parse::<usize>().expect("numeric content-length"))
            .unwrap_or(rest.len());
        assert!(rest.len() >= len, "body shorter than Content-Length");
        rest[..len].to_vec()
    };
    HttpResponse {
        status,
        headers,
        body: String::from_utf8(body).expect("UTF-8 body"),
    }
}

fn dechunk(mut rest: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let eol = rest
            .windows(2)
            .position(|w| w == b"\r\n")
            .expect("chunk size line");
        let size =
            usize::from_str_radix(std::str::from_utf8(&rest[..eol]).expect("hex").trim(), 16)
                .expect("chunk size");
        rest = &rest[eol + 2..];
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&rest[..size]);
        rest = &rest[size + 2..];
    }
}

/// One request, one parsed response.
pub async fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: &str,
    content_type: &str,
) -> HttpResponse {
    let bytes = raw(addr, method, path, body, content_type)
        .await
        .expect("request sent");
    parse(&bytes)
}

/// POSTs a SendMessage for `iin` to the SHEP path.
pub async fn soap(addr: SocketAddr, message_id: &str, iin: &str) -> HttpResponse {
    http(
        addr,
        "POST",
        "/shep",
        &send_message(message_id, iin),
        "text/xml; charset=utf-8",
    )
    .await
}

/// A keep-alive connection that can send several requests (for the stop test).
pub struct KeepAlive {
    stream: TcpStream,
}

impl KeepAlive {
    pub async fn connect(addr: SocketAddr) -> std::io::Result<KeepAlive> {
        Ok(KeepAlive {
            stream: TcpStream::connect(addr).await?,
        })
    }

    /// Sends a SendMessage and reads one Content-Length response; an error or EOF if the
    /// server closed the connection.
    pub async fn soap(&mut self, iin: &str) -> std::io::Result<HttpResponse> {
        let body = send_message("keep-alive", iin);
        self.stream
            .write_all(&request_bytes("POST", "/shep", &body, "text/xml", false))
            .await?;
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            let n = self.stream.read(&mut chunk).await?;
            if n == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            buf.extend_from_slice(&chunk[..n]);
            if let Some(split) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&buf[..split]).to_lowercase();
                let len: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse().ok())
                    .expect("content-length");
                if buf.len() >= split + 4 + len {
                    return Ok(parse(&buf[..split + 4 + len]));
                }
            }
        }
    }
}

/// Text of the first element with this local name.
pub fn text(doc: &roxmltree::Document<'_>, name: &str) -> Option<String> {
    doc.descendants()
        .find(|n| n.is_element() && n.tag_name().name() == name)
        .map(|n| n.text().unwrap_or("").to_owned())
}

/// Text of the first element `name` inside the first element `parent`.
pub fn text_in(doc: &roxmltree::Document<'_>, parent: &str, name: &str) -> Option<String> {
    let p = doc
        .descendants()
        .find(|n| n.is_element() && n.tag_name().name() == parent)?;
    p.descendants()
        .find(|n| n.is_element() && n.tag_name().name() == name)
        .map(|n| n.text().unwrap_or("").to_owned())
}

/// Number of elements with this local name.
pub fn count(doc: &roxmltree::Document<'_>, name: &str) -> usize {
    doc.descendants()
        .filter(|n| n.is_element() && n.tag_name().name() == name)
        .count()
}
