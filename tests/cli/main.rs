//! The one integration-test binary: it runs the real `preflight` binary against real
//! processes, real HTTP servers on loopback (the fixture shop) and real files.

mod bad_checklists;
mod browser;
mod discover;
mod environments;
mod flags;
mod foundation;
mod html;
mod init;
mod integrity;
mod junit;
mod records;
mod rerun;
mod rollback;
mod schema;
mod soak;
mod soak_apps;
mod support;
