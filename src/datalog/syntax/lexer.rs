//! Characters to tokens; comments and white space are dropped here.

use crate::datalog::diag::{Diagnostic, FileId, Span};

/// One token.
#[derive(Clone, Debug, PartialEq)]
pub enum Tok {
    /// A name (relation, variable, functor, type).
    Ident(String),
    /// `_`
    Underscore,
    /// A string literal, escapes resolved.
    Str(String),
    /// An integer literal.
    Num(i64),
    /// `.decl`, `.input`, ... (without the dot).
    Directive(String),
    /// Punctuation and operators, as written.
    Punct(&'static str),
    /// End of input.
    Eof,
}

/// Soufflé's directive names (the parser reports those bindlog does not support).
const DIRECTIVES: [&str; 15] = [
    "type",
    "decl",
    "input",
    "output",
    "printsize",
    "pragma",
    "symbol_type",
    "number_type",
    "functor",
    "comp",
    "init",
    "plan",
    "limitsize",
    "override",
    "include",
];

/// Splits `text` into tokens with spans; lexical errors are collected, not fatal.
pub fn lex(file: FileId, text: &str, errors: &mut Vec<Diagnostic>) -> Vec<(Tok, Span)> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    const PUNCT: [&str; 23] = [
        ":-", "<:", "!=", "<=", ">=", "(", ")", ",", ".", ":", ";", "!", "=", "<", ">", "+", "-",
        "*", "/", "%", "{", "}", "|",
    ];
    while i < bytes.len() {
        let c = bytes[i];
        let start = i;
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if text[i..].starts_with("//") || c == b'#' {
            // `#` lines are C-preprocessor directives, which Soufflé runs first; they are not ours.
            while i < bytes.len() && bytes[i] != b'\n' {
                i += 1;
            }
            continue;
        }
        if text[i..].starts_with("/*") {
            match text[i + 2..].find("*/") {
                Some(end) => i += end + 4,
                None => {
                    errors.push(
                        Diagnostic::error(
                            "unterminated block comment",
                            Span::new(file, i, i + 2),
                            "comment starts here",
                        )
                        .with_help("close it with `*/`"),
                    );
                    i = bytes.len();
                }
            }
            continue;
        }
        if c == b'"' {
            let mut s = String::new();
            i += 1;
            let mut closed = false;
            while i < bytes.len() {
                let ch = text[i..].chars().next().unwrap_or('\0');
                if ch == '"' {
                    i += 1;
                    closed = true;
                    break;
                }
                if ch == '\n' {
                    break;
                }
                if ch == '\\' && i + 1 < bytes.len() {
                    // Soufflé's escapes, and no others (`\u202e` is an error there too).
                    let e = text[i + 1..].chars().next().unwrap_or('\\');
                    s.push(match e {
                        '"' | '\'' | '\\' => e,
                        'a' => '\x07',
                        'b' => '\x08',
                        'f' => '\x0c',
                        'n' => '\n',
                        'r' => '\r',
                        't' => '\t',
                        'v' => '\x0b',
                        other => {
                            errors.push(
                                Diagnostic::error(
                                    format!("unknown escape sequence `\\{}`", other.escape_debug()),
                                    Span::new(file, i, i + 1 + other.len_utf8()),
                                    "not an escape",
                                )
                                .with_help(
                                    "the escapes are \\\" \\' \\\\ \\a \\b \\f \\n \\r \\t \\v, as in Soufflé; \
                                     write any other character itself",
                                ),
                            );
                            other
                        }
                    });
                    i += 1 + e.len_utf8();
                    continue;
                }
                s.push(ch);
                i += ch.len_utf8();
            }
            if !closed {
                errors.push(
                    Diagnostic::error(
                        "unterminated string literal",
                        Span::new(file, start, i),
                        "string starts here",
                    )
                    .with_help("close it with `\"` on the same line"),
                );
            }
            out.push((Tok::Str(s), Span::new(file, start, i)));
            continue;
        }
        if c.is_ascii_digit() {
            let (radix, skip) = if text[i..].starts_with("0x") || text[i..].starts_with("0X") {
                (16, 2)
            } else if text[i..].starts_with("0b") || text[i..].starts_with("0B") {
                (2, 2)
            } else {
                (10, 0)
            };
            i += skip;
            let digits_start = i;
            while i < bytes.len() && (bytes[i].is_ascii_alphanumeric()) {
                i += 1;
            }
            let digits = &text[digits_start..i];
            let span = Span::new(file, start, i);
            if i < bytes.len()
                && bytes[i] == b'.'
                && i + 1 < bytes.len()
                && bytes[i + 1].is_ascii_digit()
            {
                errors.push(
                    Diagnostic::error("float literals are not supported", span, "here")
                        .with_help("bindlog supports `symbol`, `number` and `unsigned`"),
                );
                i += 1;
                while i < bytes.len() && bytes[i].is_ascii_digit() {
                    i += 1;
                }
                out.push((Tok::Num(0), span));
                continue;
            }
            match i64::from_str_radix(digits, radix) {
                Ok(n) if n <= u32::MAX as i64 => out.push((Tok::Num(n), span)),
                _ => {
                    errors.push(Diagnostic::error(
                        format!("`{}` is not a 32-bit integer", &text[start..i]),
                        span,
                        "here",
                    ));
                    out.push((Tok::Num(0), span));
                }
            }
            continue;
        }
        if c.is_ascii_alphabetic() || c == b'_' || c == b'?' {
            while i < bytes.len()
                && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_' || bytes[i] == b'?')
            {
                i += 1;
            }
            let word = &text[start..i];
            let tok = if word == "_" {
                Tok::Underscore
            } else {
                Tok::Ident(word.to_string())
            };
            out.push((tok, Span::new(file, start, i)));
            continue;
        }
        if c == b'.' && i + 1 < bytes.len() && bytes[i + 1].is_ascii_alphabetic() {
            // `.decl` is a directive; `r(1).r(2).` is two facts: only directive names count.
            let mut j = i + 1;
            while j < bytes.len() && (bytes[j].is_ascii_alphanumeric() || bytes[j] == b'_') {
                j += 1;
            }
            let word = &text[i + 1..j];
            if DIRECTIVES.contains(&word) {
                i = j;
                out.push((Tok::Directive(word.to_string()), Span::new(file, start, i)));
                continue;
            }
        }
        if let Some(p) = PUNCT.iter().find(|p| text[i..].starts_with(**p)) {
            i += p.len();
            out.push((Tok::Punct(p), Span::new(file, start, i)));
            continue;
        }
        let ch = text[i..].chars().next().unwrap_or('?');
        i += ch.len_utf8();
        errors.push(Diagnostic::error(
            format!("unexpected character `{ch}`"),
            Span::new(file, start, i),
            "not part of the language",
        ));
    }
    out.push((Tok::Eof, Span::new(file, text.len(), text.len())));
    out
}
