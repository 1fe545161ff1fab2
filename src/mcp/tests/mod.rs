//! Tests of the `mcp` module.

mod props;
mod reader;
mod reply;
mod request_id;
mod sniff;
mod sse;
mod strict_json;
mod tools_list;
mod tools_list_stream;

use super::{read_payload, Message, Payload, ReadError, ReadLimits, RequestId};

pub(super) fn read(body: &str) -> Result<Payload, ReadError> {
    read_payload(body.as_bytes(), &ReadLimits::default())
}

pub(super) fn read_err(body: &str) -> ReadError {
    match read(body) {
        Err(error) => error,
        Ok(payload) => panic!("expected an error for {body}, got {payload:?}"),
    }
}

pub(super) fn single(body: &str) -> Message {
    match read(body) {
        Ok(Payload::Single(message)) => message,
        other => panic!("expected one message for {body}, got {other:?}"),
    }
}

pub(super) fn rid(text: &str) -> RequestId {
    RequestId::from_json_text(text).unwrap()
}
