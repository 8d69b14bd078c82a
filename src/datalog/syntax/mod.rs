//! Text to tree: a lexer, a recursive-descent parser with error recovery, and the tree it builds.

pub mod ast;
mod lexer;
mod parser;

pub use parser::{parse_atom, parse_program};
