//! preflight: runs a declarative pre-release checklist and blocks a deploy until every
//! blocking item passes.
//!
//! The pipeline, one module each: [`checklist`] (parse, validate) → [`plan`] → [`runner`]
//! (emits events) → [`report`] (terminal, JUnit, JSON, GitHub). Item kinds live in
//! [`checks`], one module per kind behind the [`checks::Check`] trait.

pub mod app;
pub mod checklist;
pub mod checks;
pub mod cli;
pub mod deploy;
pub mod exit;
pub mod explain;
pub mod files;
pub mod init;
pub mod leftovers;
pub mod plan;
pub mod process;
pub mod redact;
pub mod release;
pub mod report;
pub mod rerun;
pub mod runner;
pub mod settings;
pub mod signals;
pub mod suggest;
pub mod syntax;
