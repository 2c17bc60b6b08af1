//! Strict `multipart/form-data` (RFC 7578 / RFC 2046) reading and writing,
//! as IMS uses it for `ParameterRequest` + `MessagePayload`.
//!
//! Public so tests (and a test's callback receiver) can build and read the
//! same bodies the simulator does.

/// One body part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// `Content-Disposition: form-data; name="…"`.
    pub name: String,
    /// `filename="…"`, if any.
    pub filename: Option<String>,
    /// The part's `Content-Type`, if any.
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

impl Part {
    /// A part with a file name and content type.
    pub fn file(name: &str, filename: &str, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        Self {
            name: name.to_owned(),
            filename: Some(filename.to_owned()),
            content_type: Some(content_type.to_owned()),
            body: body.into(),
        }
    }
}

/// `multipart/form-data; boundary=<boundary>`.
pub fn content_type(boundary: &str) -> String {
    format!("multipart/form-data; boundary={boundary}")
}

/// A fresh random boundary.
pub fn new_boundary() -> String {
    format!("----InforSimBoundary{}", uuid::Uuid::new_v4().simple())
}

/// Serialises `parts` with CRLF line ends and the closing delimiter.
pub fn build(boundary: &str, parts: &[Part]) -> Vec<u8> {
    let mut out = Vec::new();
    for part in parts {
        out.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        let mut disposition = format!("Content-Disposition: form-data; name=\"{}\"", part.name);
        if let Some(filename) = &part.filename {
            disposition.push_str(&format!("; filename=\"{filename}\""));
        }
        out.extend_from_slice(disposition.as_bytes());
        out.extend_from_slice(b"\r\n");
        if let Some(ct) = &part.content_type {
            out.extend_from_slice(format!("Content-Type: {ct}\r\n").as_bytes());
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&part.body);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    out
}

/// The `boundary` of a `multipart/form-data` content type.
pub fn boundary(content_type: &str) -> Result<String, String> {
    let mut pieces = content_type.split(';');
    let media = pieces.next().unwrap_or("").trim();
    if !media.eq_ignore_ascii_case("multipart/form-data") {
        return Err(format!("Content-Type must be multipart/form-data, got '{content_type}'"));
    }
    for piece in pieces {
        if let Some((key, value)) = piece.split_once('=')
            && key.trim().eq_ignore_ascii_case("boundary")
        {
            let value = value.trim().trim_matches('"');
            if value.is_empty() || value.len() > 70 {
                return Err("The multipart boundary must be 1 to 70 characters".into());
            }
            return Ok(value.to_owned());
        }
    }
    Err("The multipart Content-Type has no boundary parameter".into())
}

fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if from > haystack.len() {
        return None;
    }
    haystack[from..].windows(needle.len()).position(|w| w == needle).map(|p| p + from)
}

/// Splits a `multipart/form-data` body into its parts.
pub fn parse(content_type_value: &str, body: &[u8]) -> Result<Vec<Part>, String> {
    let boundary = boundary(content_type_value)?;
    let delimiter = format!("--{boundary}").into_bytes();
    let inner_delimiter = [b"\r\n".as_slice(), &delimiter].concat();
    // The first delimiter starts the body or follows a preamble line.
    let mut pos = if body.starts_with(&delimiter) {
        delimiter.len()
    } else {
        find(body, &inner_delimiter, 0).ok_or("Malformed multipart body: no opening boundary")? + inner_delimiter.len()
    };
    let mut parts = Vec::new();
    loop {
        if body[pos..].starts_with(b"--") {
            if parts.is_empty() {
                return Err("Malformed multipart body: no parts".into());
            }
            return Ok(parts);
        }
        // Transport padding after a delimiter is allowed (RFC 2046 §5.1.1).
        while body.get(pos).is_some_and(|b| *b == b' ' || *b == b'\t') {
            pos += 1;
        }
        if !body[pos..].starts_with(b"\r\n") {
            return Err("Malformed multipart body: a boundary line must end with CRLF".into());
        }
        pos += 2;
        let header_end = find(body, b"\r\n\r\n", pos)
            .ok_or("Malformed multipart body: part headers are not terminated by an empty line")?;
        let headers = std::str::from_utf8(&body[pos..header_end])
            .map_err(|_| "Malformed multipart body: part headers are not UTF-8")?;
        let content_start = header_end + 4;
        let content_end =
            find(body, &inner_delimiter, content_start).ok_or("Malformed multipart body: missing closing boundary")?;
        parts.push(part(headers, body[content_start..content_end].to_vec())?);
        pos = content_end + inner_delimiter.len();
    }
}

fn part(headers: &str, body: Vec<u8>) -> Result<Part, String> {
    let mut name = None;
    let mut filename = None;
    let mut content_type = None;
    for line in headers.split("\r\n").filter(|l| !l.is_empty()) {
        let (key, value) =
            line.split_once(':').ok_or_else(|| format!("Malformed multipart body: bad part header '{line}'"))?;
        let key = key.trim();
        let value = value.trim();
        if key.eq_ignore_ascii_case("content-disposition") {
            let mut params = value.split(';');
            let kind = params.next().unwrap_or("").trim();
            if !kind.eq_ignore_ascii_case("form-data") {
                return Err(format!("Malformed multipart body: Content-Disposition must be form-data, got '{kind}'"));
            }
            for param in params {
                let Some((k, v)) = param.split_once('=') else { continue };
                let v = v.trim().trim_matches('"').to_owned();
                match k.trim().to_ascii_lowercase().as_str() {
                    "name" => name = Some(v),
                    "filename" => filename = Some(v),
                    _ => {}
                }
            }
        } else if key.eq_ignore_ascii_case("content-type") {
            content_type = Some(value.to_owned());
        }
    }
    let name = name.ok_or("Malformed multipart body: a part has no Content-Disposition name")?;
    Ok(Part { name, filename, content_type, body })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_and_parse_round_trip() {
        let parts = vec![
            Part::file("ParameterRequest", "ParameterRequest.json", "application/json", b"{\"a\":1}".to_vec()),
            Part::file("MessagePayload", "payload.xml", "application/octet-stream", b"<X>\r\n--not</X>".to_vec()),
        ];
        let body = build("b1", &parts);
        let parsed = parse(&content_type("b1"), &body).unwrap();
        assert_eq!(parsed, parts);
    }

    #[test]
    fn refuses_malformed_bodies() {
        assert!(parse("application/json", b"{}").is_err());
        assert!(parse("multipart/form-data", b"--x\r\n").unwrap_err().contains("boundary"));
        assert!(
            parse("multipart/form-data; boundary=x", b"--x\r\nContent-Disposition: form-data\r\n\r\nv\r\n--x--")
                .is_err()
        );
        assert!(
            parse("multipart/form-data; boundary=x", b"--x\r\nContent-Disposition: form-data; name=a\r\n\r\nv")
                .is_err()
        );
        assert!(parse("multipart/form-data; boundary=x", b"--x--\r\n").is_err());
    }

    #[test]
    fn quoted_boundary_and_preamble() {
        let body = b"preamble\r\n--q\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nvalue\r\n--q--\r\n";
        let parsed = parse("multipart/form-data; boundary=\"q\"", body).unwrap();
        assert_eq!(parsed[0].name, "a");
        assert_eq!(parsed[0].body, b"value");
    }
}
