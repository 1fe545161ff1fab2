//! Reading a `ShouldRateLimit` answer, or the failure of the call.

use prost::Message;

use super::proto::{RateLimitResponse, CODE_OK, CODE_OVER_LIMIT};

/// What the service said about a charge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    /// Every counter had room.
    Ok,
    /// At least one had none. `None` when the service gave no status per
    /// descriptor (Limitador does not): which one is then unknown.
    OverLimit(Option<Vec<Status>>),
}

/// One counter's status, in request order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Status {
    pub over: bool,
    pub remaining: u32,
    /// Whole seconds until its window resets, when the service said.
    pub reset_after: Option<u64>,
}

/// Why a call got no answer to act on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CallFailure {
    /// gRPC `UNAVAILABLE`: the service, or its store, cannot count.
    Unavailable(String),
    /// gRPC `DEADLINE_EXCEEDED`: no answer within the timeout.
    Timeout,
    /// Any other gRPC status, a call Envoy would not dispatch, or an answer
    /// that is not a `RateLimitResponse` with a known code.
    Error(String),
}

impl CallFailure {
    /// From a gRPC status code and message (`proxy_on_grpc_close`).
    pub fn from_grpc(code: u32, message: &str) -> CallFailure {
        match code {
            4 => CallFailure::Timeout,
            14 => CallFailure::Unavailable(message.to_owned()),
            _ => CallFailure::Error(format!("gRPC status {code}: {message}")),
        }
    }

    /// The metric label.
    pub fn label(&self) -> &'static str {
        match self {
            CallFailure::Unavailable(_) => "unavailable",
            CallFailure::Timeout => "timeout",
            CallFailure::Error(_) => "error",
        }
    }
}

impl std::fmt::Display for CallFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallFailure::Unavailable(message) => write!(f, "unavailable: {message}"),
            CallFailure::Timeout => f.write_str("no answer within the timeout"),
            CallFailure::Error(message) => f.write_str(message),
        }
    }
}

/// Reads the answer to a request of `descriptors` descriptors. An answer
/// whose code is neither OK nor OVER_LIMIT (UNKNOWN: Limitador's answer to
/// an empty domain) counts nothing the filter can rely on: a failure.
pub fn read(bytes: &[u8], descriptors: usize) -> Result<Answer, CallFailure> {
    let response = RateLimitResponse::decode(bytes)
        .map_err(|error| CallFailure::Error(format!("not a RateLimitResponse: {error}")))?;
    let statuses: Vec<Status> = response
        .statuses
        .iter()
        .map(|status| Status {
            over: status.code == CODE_OVER_LIMIT,
            remaining: status.limit_remaining,
            reset_after: status.duration_until_reset.as_ref().and_then(|d| {
                let seconds = u64::try_from(d.seconds).ok()?;
                Some(seconds.saturating_add(u64::from(d.nanos > 0)).max(1))
            }),
        })
        .collect();
    let complete = statuses.len() == descriptors;
    let any_over = statuses.iter().any(|status| status.over);
    match response.overall_code {
        CODE_OK if !any_over => Ok(Answer::Ok),
        CODE_OK | CODE_OVER_LIMIT => Ok(Answer::OverLimit(complete.then_some(statuses))),
        code => Err(CallFailure::Error(format!(
            "the service answered with code {code}, neither OK nor OVER_LIMIT"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::super::proto::{DescriptorStatus, Duration};
    use super::*;

    fn response(overall_code: i32, statuses: Vec<DescriptorStatus>) -> Vec<u8> {
        RateLimitResponse {
            overall_code,
            statuses,
        }
        .encode_to_vec()
    }

    fn status(code: i32, remaining: u32, seconds: i64, nanos: i32) -> DescriptorStatus {
        DescriptorStatus {
            code,
            limit_remaining: remaining,
            duration_until_reset: Some(Duration { seconds, nanos }),
        }
    }

    #[test]
    fn ok_and_over_limit_with_their_statuses() {
        assert_eq!(
            read(&response(CODE_OK, vec![status(1, 3, 10, 0)]), 1),
            Ok(Answer::Ok)
        );
        let over = response(
            CODE_OVER_LIMIT,
            vec![status(1, 3, 10, 0), status(2, 0, 41, 5)],
        );
        assert_eq!(
            read(&over, 2),
            Ok(Answer::OverLimit(Some(vec![
                Status {
                    over: false,
                    remaining: 3,
                    reset_after: Some(10)
                },
                Status {
                    over: true,
                    remaining: 0,
                    reset_after: Some(42)
                },
            ])))
        );
    }

    #[test]
    fn statuses_that_do_not_match_the_request_are_not_used() {
        assert_eq!(
            read(&response(CODE_OVER_LIMIT, vec![]), 2),
            Ok(Answer::OverLimit(None))
        );
        assert_eq!(
            read(&response(CODE_OVER_LIMIT, vec![status(2, 0, 1, 0)]), 2),
            Ok(Answer::OverLimit(None))
        );
    }

    #[test]
    fn a_descriptor_over_its_limit_refuses_even_under_an_ok_code() {
        let answer = read(&response(CODE_OK, vec![status(2, 0, 5, 0)]), 1);
        assert!(matches!(answer, Ok(Answer::OverLimit(Some(_)))));
    }

    #[test]
    fn unknown_codes_and_garbage_are_failures() {
        assert!(matches!(
            read(&response(0, vec![]), 1),
            Err(CallFailure::Error(_))
        ));
        assert!(matches!(
            read(&[0xff, 0xff, 0xff], 1),
            Err(CallFailure::Error(_))
        ));
    }

    #[test]
    fn grpc_statuses_name_timeouts_and_unavailability() {
        assert_eq!(CallFailure::from_grpc(4, "deadline").label(), "timeout");
        assert_eq!(
            CallFailure::from_grpc(14, "redis full").label(),
            "unavailable"
        );
        assert_eq!(CallFailure::from_grpc(3, "invalid").label(), "error");
    }
}
