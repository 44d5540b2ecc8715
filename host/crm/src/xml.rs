//! A minimal XML element tree over quick-xml: enough for the CIB (elements and
//! attributes; text, comments and processing instructions are dropped).

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};

use crate::error::XmlError;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Element {
    pub name: String,
    pub attrs: Vec<(String, String)>,
    pub children: Vec<Element>,
}

impl Element {
    pub fn new(name: &str) -> Self {
        Element {
            name: name.to_string(),
            ..Element::default()
        }
    }

    pub fn attr(mut self, name: &str, value: &str) -> Self {
        self.set(name, value);
        self
    }

    pub fn opt_attr(self, name: &str, value: Option<&str>) -> Self {
        match value {
            Some(v) => self.attr(name, v),
            None => self,
        }
    }

    pub fn set(&mut self, name: &str, value: &str) {
        match self.attrs.iter_mut().find(|(n, _)| n == name) {
            Some(slot) => slot.1 = value.to_string(),
            None => self.attrs.push((name.to_string(), value.to_string())),
        }
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The attribute, or an error naming the element.
    pub fn require(&self, name: &str) -> Result<&str, XmlError> {
        self.get(name).ok_or_else(|| XmlError::MissingAttribute {
            element: self.name.clone(),
            attribute: name.to_string(),
        })
    }

    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    pub fn child_mut_or_insert(&mut self, name: &str) -> &mut Element {
        let index = match self.children.iter().position(|c| c.name == name) {
            Some(i) => i,
            None => {
                self.children.push(Element::new(name));
                self.children.len() - 1
            }
        };
        &mut self.children[index]
    }

    /// Pretty-prints with two-space indentation, as cibadmin does.
    pub fn to_string_pretty(&self) -> String {
        let mut out = String::new();
        self.write(&mut out, 0);
        out
    }

    fn write(&self, out: &mut String, depth: usize) {
        out.push_str(&"  ".repeat(depth));
        out.push('<');
        out.push_str(&self.name);
        for (n, v) in &self.attrs {
            out.push(' ');
            out.push_str(n);
            out.push_str("=\"");
            out.push_str(&escape(v));
            out.push('"');
        }
        if self.children.is_empty() {
            out.push_str("/>\n");
            return;
        }
        out.push_str(">\n");
        for c in &self.children {
            c.write(out, depth + 1);
        }
        out.push_str(&"  ".repeat(depth));
        out.push_str("</");
        out.push_str(&self.name);
        out.push_str(">\n");
    }
}

fn escape(v: &str) -> String {
    let mut s = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '&' => s.push_str("&amp;"),
            '<' => s.push_str("&lt;"),
            '>' => s.push_str("&gt;"),
            '"' => s.push_str("&quot;"),
            '\'' => s.push_str("&apos;"),
            c => s.push(c),
        }
    }
    s
}

/// Parses a document and returns its root element.
pub fn parse(text: &str) -> Result<Element, XmlError> {
    let mut reader = Reader::from_str(text);
    let mut stack: Vec<Element> = Vec::new();
    let malformed = |reader: &Reader<&[u8]>, message: String| XmlError::Malformed {
        position: reader.buffer_position(),
        message,
    };
    loop {
        let event = reader
            .read_event()
            .map_err(|e| malformed(&reader, e.to_string()))?;
        match event {
            Event::Start(start) => stack.push(element(&start).map_err(|m| malformed(&reader, m))?),
            Event::Empty(start) => {
                let e = element(&start).map_err(|m| malformed(&reader, m))?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(e),
                    None => return Ok(e),
                }
            }
            Event::End(_) => {
                let done = stack
                    .pop()
                    .ok_or_else(|| malformed(&reader, "unbalanced end tag".into()))?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(done),
                    None => return Ok(done),
                }
            }
            Event::Eof => return Err(malformed(&reader, "no root element".into())),
            _ => {}
        }
    }
}

fn element(start: &BytesStart) -> Result<Element, String> {
    let name = String::from_utf8_lossy(start.name().as_ref()).into_owned();
    let mut e = Element::new(&name);
    for a in start.attributes() {
        let a = a.map_err(|err| err.to_string())?;
        let key = String::from_utf8_lossy(a.key.as_ref()).into_owned();
        let value = a
            .unescape_value()
            .map_err(|err| err.to_string())?
            .into_owned();
        e.attrs.push((key, value));
    }
    Ok(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_round_trip() {
        let e = Element::new("a")
            .attr("x", "1 & <2> \"q\"")
            .opt_attr("y", None);
        let mut root = Element::new("root");
        root.children.push(e);
        let text = root.to_string_pretty();
        assert_eq!(
            text,
            "<root>\n  <a x=\"1 &amp; &lt;2&gt; &quot;q&quot;\"/>\n</root>\n"
        );
        assert_eq!(parse(&text).unwrap(), root);
    }

    #[test]
    fn rejects_garbage() {
        assert!(parse("<a><b></a>").is_err());
        assert!(parse("").is_err());
    }
}
