//! The dashboard in a real headless Chromium, driven through WebDriver
//! (chromedriver, one per test process, shared by the tests). The server is
//! the real `scriptd` binary on a temp storage directory. Needs Debian's
//! `chromium` and `chromium-driver`; without them every test here FAILS
//! with the command that installs them.

mod browser;
mod server;

mod dashboard;
mod dashboard_access;
mod dashboard_details;
mod dashboard_hooks;
mod dashboard_schedules;
