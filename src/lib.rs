//! bindlog: who sees which stage of which authentik flow, who can open which application, and why.
//!
//! Data flows one way: rules text -> [`datalog`] (parse, check, compile, evaluate, prove);
//! authentik configuration -> [`snapshot`] -> [`facts`] (input relations);
//! [`analysis`] answers -> [`report`] (HTML, CSV, diagrams).

pub mod analysis;
pub mod audit;
pub mod datalog;
pub mod escape;
pub mod facts;
pub mod report;
pub mod snapshot;
pub mod suggest;
pub mod time;
