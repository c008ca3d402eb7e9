//! `[browser.NAME]` journeys in real headless Chromium (chromedriver started by preflight, or a
//! real Selenium Grid) against the real fixture shop and against small pages of the tests' own,
//! served by a real HTTP server.

mod cleanup;
mod grid;
pub mod journeys;
mod pages;
mod sandbox;
mod site;
mod steps;
