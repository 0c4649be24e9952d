//! Test support shared by kleene-eval's and kleene-cli's tests (included with
//! `#[path = ...] mod xml;`): an independent reader for the SVG plots the reports write.

use std::collections::BTreeMap;

/// Minimal XML reader: checks that tags nest and returns every element as
/// (name, attributes) in document order.
pub fn parse_xml(text: &str) -> Vec<(String, BTreeMap<String, String>)> {
    let mut stack: Vec<String> = Vec::new();
    let mut elements = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find('<') {
        let end = rest[start..].find('>').expect("unclosed tag") + start;
        let tag = &rest[start + 1..end];
        rest = &rest[end + 1..];
        if let Some(name) = tag.strip_prefix('/') {
            assert_eq!(
                stack.pop().as_deref(),
                Some(name.trim()),
                "mismatched </{name}>"
            );
            continue;
        }
        let self_closing = tag.ends_with('/');
        let body = tag.trim_end_matches('/');
        let name_end = body.find(char::is_whitespace).unwrap_or(body.len());
        let name = body[..name_end].to_string();
        let mut attrs = BTreeMap::new();
        let mut a = body[name_end..].trim();
        while !a.is_empty() {
            let eq = a.find('=').expect("attribute without value");
            let key = a[..eq].trim().to_string();
            let after = &a[eq + 1..];
            assert!(after.starts_with('"'), "unquoted attribute {key}");
            let close = after[1..].find('"').expect("unterminated attribute") + 1;
            let value = after[1..close].to_string();
            assert!(!value.contains('<'), "raw < in attribute");
            attrs.insert(key, value);
            a = after[close + 1..].trim();
        }
        if !self_closing {
            stack.push(name.clone());
        }
        elements.push((name, attrs));
    }
    assert!(stack.is_empty(), "unclosed elements: {stack:?}");
    elements
}
