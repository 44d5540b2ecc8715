//! A small element tree built with quick-xml. The model is read from this tree so that errors
//! can name the element and its position.

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

use crate::error::{CibError, Position};

#[derive(Debug, Clone)]
pub(crate) struct Element {
    pub name: String,
    pub attrs: Vec<(String, String)>,
    pub children: Vec<Element>,
    pub pos: Position,
}

impl Element {
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    pub fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }
}

/// Maps byte offsets to line/column, computed lazily from the source.
struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    fn new(src: &str) -> LineIndex {
        let mut starts = vec![0];
        starts.extend(src.bytes().enumerate().filter(|(_, b)| *b == b'\n').map(|(i, _)| i + 1));
        LineIndex { starts }
    }

    fn position(&self, offset: usize) -> Position {
        let line = match self.starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i - 1,
        };
        Position { line: line + 1, column: offset - self.starts[line] + 1 }
    }
}

fn element_from(start: &BytesStart<'_>, pos: Position) -> Result<Element, CibError> {
    let name = String::from_utf8_lossy(start.name().as_ref()).into_owned();
    let mut attrs = Vec::new();
    for a in start.attributes() {
        let a = a.map_err(|e| CibError::Syntax { pos, message: e.to_string() })?;
        let key = String::from_utf8_lossy(a.key.as_ref()).into_owned();
        let value = a
            .unescape_value()
            .map_err(|e| CibError::Syntax { pos, message: e.to_string() })?
            .into_owned();
        attrs.push((key, value));
    }
    Ok(Element { name, attrs, children: Vec::new(), pos })
}

/// Parse a document into its root element. Text content is ignored: the CIB keeps all data in
/// attributes.
pub(crate) fn parse(src: &str) -> Result<Element, CibError> {
    let index = LineIndex::new(src);
    let mut reader = Reader::from_str(src);
    reader.config_mut().trim_text(true);
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    loop {
        let event = reader.read_event().map_err(|e| CibError::Syntax {
            pos: index.position(reader.error_position() as usize),
            message: e.to_string(),
        })?;
        // The event has just been consumed: its tag starts at the last '<' before here ('<' cannot
        // appear unescaped inside attribute values).
        let end = (reader.buffer_position() as usize).min(src.len());
        let pos = index.position(src.get(..end).and_then(|s| s.rfind('<')).unwrap_or(0));
        match event {
            Event::Start(s) => stack.push(element_from(&s, pos)?),
            Event::Empty(s) => {
                let el = element_from(&s, pos)?;
                attach(&mut stack, &mut root, el, pos)?;
            }
            Event::End(_) => {
                let el = stack.pop().ok_or_else(|| CibError::Syntax {
                    pos,
                    message: "closing tag without an opening tag".into(),
                })?;
                attach(&mut stack, &mut root, el, pos)?;
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if let Some(open) = stack.last() {
        return Err(CibError::Syntax {
            pos: open.pos,
            message: format!("element <{}> is never closed", open.name),
        });
    }
    root.ok_or(CibError::Syntax { pos: Position { line: 1, column: 1 }, message: "no root element".into() })
}

fn attach(
    stack: &mut [Element],
    root: &mut Option<Element>,
    el: Element,
    pos: Position,
) -> Result<(), CibError> {
    match stack.last_mut() {
        Some(parent) => parent.children.push(el),
        None if root.is_none() => *root = Some(el),
        None => {
            return Err(CibError::Syntax { pos, message: "more than one root element".into() });
        }
    }
    Ok(())
}

/// Escape a string for use inside a double-quoted attribute.
pub(crate) fn escape_attr(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' => out.push_str("&#9;"),
            _ => out.push(c),
        }
    }
}
