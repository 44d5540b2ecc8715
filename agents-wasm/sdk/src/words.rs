//! Splitting an option string such as `-e A="b c" --net host` into words the way a POSIX
//! shell would (quotes and backslashes), without ever running a shell.

/// The words of `text`; an unclosed quote or a trailing backslash is an error naming it.
pub fn split(text: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word = String::new();
    // A word exists once any character (even an empty pair of quotes) started it.
    let mut started = false;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if started {
                    words.push(std::mem::take(&mut word));
                    started = false;
                }
            }
            '\'' => {
                started = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => word.push(c),
                        None => return Err(format!("unclosed single quote in '{text}'")),
                    }
                }
            }
            '"' => {
                started = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        // Inside double quotes a backslash only escapes these.
                        Some('\\') => match chars.next() {
                            Some(e @ ('"' | '\\' | '$' | '`')) => word.push(e),
                            Some(other) => {
                                word.push('\\');
                                word.push(other);
                            }
                            None => return Err(format!("unclosed double quote in '{text}'")),
                        },
                        Some(c) => word.push(c),
                        None => return Err(format!("unclosed double quote in '{text}'")),
                    }
                }
            }
            '\\' => {
                started = true;
                match chars.next() {
                    Some(e) => word.push(e),
                    None => return Err(format!("trailing backslash in '{text}'")),
                }
            }
            c => {
                started = true;
                word.push(c);
            }
        }
    }
    if started {
        words.push(word);
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::split;

    #[test]
    fn splits_like_a_shell() {
        assert_eq!(split("  -e A=\"b c\" --net  host '' x\\ y ").unwrap(), ["-e", "A=b c", "--net", "host", "", "x y"]);
        assert_eq!(split("\"a\\\"b\" 'c\\d'").unwrap(), ["a\"b", "c\\d"]);
        assert!(split("").unwrap().is_empty());
        assert!(split("a 'b").unwrap_err().contains("unclosed single quote"));
        assert!(split("a \"b").unwrap_err().contains("unclosed double quote"));
        assert!(split("a\\").unwrap_err().contains("trailing backslash"));
    }
}
