//! The two S3 XML documents the reader needs: `ListBucketResult` (ListObjectsV2) and `Error`.
//!
//! Both are flat and machine-written, so a tag scanner with entity decoding is enough; a full
//! XML parser would be a dependency for four element names.

/// Raw (still escaped) content of every `<tag>…</tag>` element in `doc`, in order.
pub fn all<'a>(doc: &'a str, tag: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let mut rest = doc;
    std::iter::from_fn(move || {
        let start = rest.find(&open)? + open.len();
        let len = rest[start..].find(&close)?;
        let text = &rest[start..start + len];
        rest = &rest[start + len + close.len()..];
        Some(text)
    })
}

/// Text of the first `<tag>…</tag>` element, entities decoded.
pub fn first(doc: &str, tag: &str) -> Option<String> {
    all(doc, tag).next().map(unescape)
}

/// Decodes the five predefined entities and numeric character references.
pub fn unescape(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let Some(end) = rest.find(';') else { break };
        let ent = &rest[1..end];
        let ch = match ent {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => ent
                .strip_prefix("#x")
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .or_else(|| ent.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        };
        match ch {
            Some(c) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_result_keys_and_token() {
        let doc = r#"<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name>
<Contents><Key>a&amp;b.sf</Key><Size>3</Size></Contents>
<Contents><Key>c&#x20;d&#33;</Key><Size>4</Size></Contents>
<IsTruncated>true</IsTruncated><NextContinuationToken>tok&lt;</NextContinuationToken>
</ListBucketResult>"#;
        let keys: Vec<String> = all(doc, "Contents")
            .filter_map(|c| first(c, "Key"))
            .collect();
        assert_eq!(keys, ["a&b.sf", "c d!"]);
        assert_eq!(first(doc, "IsTruncated").as_deref(), Some("true"));
        assert_eq!(first(doc, "NextContinuationToken").as_deref(), Some("tok<"));
        assert_eq!(first(doc, "Missing"), None);
        assert_eq!(unescape("x & y &bogus; z"), "x & y &bogus; z");
    }
}
