//! I/O of the HTTP side: the tiny_http server and its workers, routing, the scrape (snapshot →
//! figures → text) shared by `/metrics` and `--once`, buffers kept between scrapes, bodies shared
//! by concurrent scrapes, gzip from parts deflated once, the figures' text reused while the
//! state is unchanged, and TLS and basic auth from the web configuration. Imports `views`,
//! `model` and the shared files; never `ingest`.

pub mod basic_auth;
pub mod buffers;
pub mod gzip;
pub mod http;
pub mod node_text;
pub mod reused_figures;
pub mod scrape;
pub mod shared_bodies;
pub mod web_config;
pub mod web_security;
