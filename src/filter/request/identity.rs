//! Who is calling: the grant a request's credential selects.

use std::rc::Rc;

use super::head::{Bearer, RequestHead};
use crate::config::{Config, Grant};

/// The caller, as the request headers establish it.
#[derive(Clone, Debug)]
pub enum Identity {
    Granted(Rc<Grant>),
    /// No grant: the reason goes in the 401.
    Refused(&'static str),
}

impl Identity {
    pub fn grant(&self) -> Option<&Rc<Grant>> {
        match self {
            Identity::Granted(grant) => Some(grant),
            Identity::Refused(_) => None,
        }
    }
}

pub fn identify(config: &Config, head: &RequestHead) -> Identity {
    let grants = &config.grants;
    if grants.is_empty() {
        return Identity::Refused(if grants.is_bare_policy() {
            "Unauthorized: the filter was given a bare policy with no grants, so no bearer token is accepted; configure grants in the wrapper configuration"
        } else {
            "Unauthorized: no grants are configured, so no bearer token is accepted"
        });
    }
    match &head.bearer {
        Bearer::Missing => Identity::Refused(
            "Unauthorized: a bearer token is required (Authorization: Bearer <token>)",
        ),
        Bearer::Malformed => Identity::Refused(
            "Unauthorized: the Authorization header must be a single \"Bearer <token>\"",
        ),
        Bearer::Token(token) => match grants.lookup(token) {
            Some(grant) => Identity::Granted(Rc::clone(grant)),
            None => Identity::Refused("Unauthorized: unknown bearer token"),
        },
    }
}
