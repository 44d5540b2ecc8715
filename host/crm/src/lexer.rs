//! Splits crm text into statements of words, remembering where each word starts.
//!
//! A statement is one logical line: physical lines joined by a trailing `\`. Two
//! Atrium extensions let configuration copied from slides and documents load as written:
//! a trailing `¥` (how a backslash shows in Japanese fonts) also continues a line, and an
//! indented line that does not begin with a statement keyword continues the statement above.
//! A line whose first non-blank character is `#` is a comment, unless it follows a
//! continuation marker (then `#uname ...` is part of a rule).

use crate::error::{CrmError, CrmErrorKind};

/// One word of a statement, with quotes removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub text: String,
    pub line: usize,
    pub column: usize,
    /// Whether any part of the word was quoted: a quoted `(` is a name, not a set bracket.
    pub quoted: bool,
}

/// The words of one statement, plus where the statement ended (for "found end of line").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    pub tokens: Vec<Token>,
    pub end_line: usize,
    pub end_column: usize,
}

/// Words that begin a statement; an indented line starting with one is not a continuation.
pub const KEYWORDS: &[&str] = &[
    "node",
    "primitive",
    "group",
    "clone",
    "ms",
    "master",
    "location",
    "colocation",
    "collocation",
    "order",
    "property",
    "rsc_defaults",
    "op_defaults",
    "fencing_topology",
    "tag",
];

const YEN: char = '¥';

/// Tokenizes `source` into statements.
pub fn lex(source: &str, file: &str) -> Result<Vec<Statement>, CrmError> {
    let mut statements = Vec::new();
    let mut current: Option<Statement> = None;
    let mut continuing = false;
    for (index, raw_line) in source.split('\n').enumerate() {
        let line_no = index + 1;
        let line = raw_line.strip_suffix('\r').unwrap_or(raw_line);
        let trimmed = line.trim_start();
        if !continuing {
            if trimmed.is_empty() {
                statements.extend(current.take());
                continue;
            }
            if trimmed.starts_with('#') {
                continue;
            }
            let indented = trimmed.len() != line.len();
            let first_word = trimmed.split_whitespace().next().unwrap_or("");
            if !(indented && current.is_some() && !KEYWORDS.contains(&first_word)) {
                statements.extend(current.take());
            }
        }
        let (tokens, continues) = lex_line(line, line_no, file)?;
        let statement = current.get_or_insert_with(|| Statement {
            tokens: Vec::new(),
            end_line: line_no,
            end_column: 1,
        });
        statement.tokens.extend(tokens);
        statement.end_line = line_no;
        statement.end_column = line.trim_end().chars().count() + 1;
        continuing = continues;
    }
    // A continuation marker on the last line just ends the statement (slides often
    // leave one behind).
    statements.extend(current.take());
    statements.retain(|s| !s.tokens.is_empty());
    Ok(statements)
}

/// Splits one physical line into words; the flag says whether it ends with a continuation.
fn lex_line(line: &str, line_no: usize, file: &str) -> Result<(Vec<Token>, bool), CrmError> {
    let chars: Vec<char> = line.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        let mut text = String::new();
        let mut quoted = false;
        while i < chars.len() && !chars[i].is_whitespace() {
            let c = chars[i];
            if (c == '\\' || c == YEN) && chars[i + 1..].iter().all(|c| c.is_whitespace()) {
                if !text.is_empty() || quoted {
                    tokens.push(Token {
                        text,
                        line: line_no,
                        column: start + 1,
                        quoted,
                    });
                }
                return Ok((tokens, true));
            }
            if c == '"' || c == '\'' {
                quoted = true;
                let open = i;
                i += 1;
                loop {
                    match chars.get(i) {
                        None => {
                            return Err(CrmError {
                                file: file.to_string(),
                                line: line_no,
                                column: open + 1,
                                kind: CrmErrorKind::UnterminatedQuote(c),
                            });
                        }
                        Some(&q) if q == c => break,
                        // Inside double quotes a backslash escapes the quote or itself.
                        Some('\\') if c == '"' && matches!(chars.get(i + 1), Some('"' | '\\')) => {
                            text.push(chars[i + 1]);
                            i += 2;
                        }
                        Some(&other) => {
                            text.push(other);
                            i += 1;
                        }
                    }
                }
                i += 1;
            } else {
                text.push(c);
                i += 1;
            }
        }
        tokens.push(Token {
            text,
            line: line_no,
            column: start + 1,
            quoted,
        });
    }
    Ok((tokens, false))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &Statement) -> Vec<&str> {
        s.tokens.iter().map(|t| t.text.as_str()).collect()
    }

    #[test]
    fn joins_backslash_yen_and_indented_lines() {
        let src = "primitive a Dummy \\\n  op start ¥\n  op stop\n    params x=1\nnode n1\n";
        let st = lex(src, "t.crm").unwrap();
        assert_eq!(st.len(), 2);
        assert_eq!(
            words(&st[0]),
            [
                "primitive",
                "a",
                "Dummy",
                "op",
                "start",
                "op",
                "stop",
                "params",
                "x=1"
            ]
        );
        assert_eq!(words(&st[1]), ["node", "n1"]);
    }

    #[test]
    fn quotes_comments_and_positions() {
        let src = "# comment\nproperty a=\"x y\" b='q\"' c=\"\\\"\"\n";
        let st = lex(src, "t.crm").unwrap();
        assert_eq!(words(&st[0]), ["property", "a=x y", "b=q\"", "c=\""]);
        assert_eq!((st[0].tokens[1].line, st[0].tokens[1].column), (2, 10));
        assert!(st[0].tokens[1].quoted && !st[0].tokens[0].quoted);
    }

    #[test]
    fn hash_after_continuation_is_not_a_comment() {
        let st = lex("location l r rule 1: \\\n#uname eq n\n", "t").unwrap();
        assert_eq!(words(&st[0]).last(), Some(&"n"));
        assert_eq!(st[0].tokens.len(), 8);
    }

    #[test]
    fn unterminated_quote_is_located() {
        let err = lex("node a\nproperty x=\"abc\n", "f.crm").unwrap_err();
        assert_eq!((err.line, err.column), (2, 12));
        assert_eq!(err.to_string(), "f.crm:2:12: unterminated \" quote");
    }

    #[test]
    fn indented_keyword_starts_a_new_statement() {
        let st = lex("node a\n  node b\n", "t").unwrap();
        assert_eq!(st.len(), 2);
    }
}
