//! bindlog: who sees which stage of which authentik flow, who can open which application, and why.
//!
//! Data flows one way: rules text -> [`datalog`] (parse, check, compile, evaluate, prove);
//! authentik configuration -> [`snapshot`] -> [`facts`] (input relations).

pub mod analysis;
pub mod audit;
pub mod datalog;
pub mod facts;
pub mod snapshot;
