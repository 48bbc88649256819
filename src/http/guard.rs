//! What a request must pass before any of its body is read: an admin request's token, checked
//! from the head (a request without a valid one is refused unread, and each address may fail only
//! so often); then room in the budget of bodies read at once, and a deadline for the body to
//! arrive by. Bounds in `crate::limits`.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::{HttpMessage as _, HttpResponse, ResponseError as _, web};
use futures_util::Stream;

use super::AppState;
use super::error::ApiError;
use crate::error_codes::ErrorCode;
use crate::service::ServiceError;

/// The per-client-address limiter of failed admin attempts.
pub type FailureLimiter = super::RateLimiter;

/// A limiter allowing `per_minute` failures a minute per address, in a burst (0: none).
pub fn failure_limiter(per_minute: u32) -> Option<Arc<FailureLimiter>> {
    let n = std::num::NonZeroU32::new(per_minute)?;
    Some(Arc::new(governor::RateLimiter::keyed(
        governor::Quota::per_minute(n).allow_burst(n),
    )))
}

/// Lets a request through once its caller is known (admin routes) and its body has room and a
/// deadline; refuses it, unread, otherwise.
pub async fn admit(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody + 'static>>, actix_web::Error> {
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_left_body);
    };
    if req.path().starts_with("/v1/admin/") {
        match authenticate(&req, &state).await {
            Ok(actor) => {
                req.extensions_mut().insert(actor);
            }
            Err(refusal) => return Ok(refuse(req, refusal)),
        }
    }
    let Some(length) = body_length(req.headers()) else {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_left_body);
    };
    let charge = state.limits.body_charge(length);
    let wait = state
        .bodies
        .clone()
        .acquire_many_owned(u32::try_from(charge).unwrap_or(u32::MAX));
    let Ok(Ok(permit)) = tokio::time::timeout(crate::limits::BODY_BUDGET_WAIT, wait).await else {
        let busy = ApiError::new(
            ErrorCode::ServerBusy,
            "the registry is reading as many request bodies as it holds at once; try again in 1 s",
        );
        return Ok(refuse(req, busy.retry_after(1).error_response()));
    };
    let late = Arc::new(AtomicBool::new(false));
    let payload = req.take_payload();
    let deadline = Deadline {
        inner: payload,
        sleep: Box::pin(tokio::time::sleep(state.limits.body_timeout)),
        late: late.clone(),
    };
    req.set_payload(Payload::from(
        Box::pin(deadline) as actix_http::BoxedPayloadStream
    ));
    let outcome = next.call(req).await;
    drop(permit);
    if let Ok(res) = &outcome
        && late.load(Ordering::Acquire)
    {
        let request = res.request().clone();
        let seconds = state.limits.body_timeout.as_secs_f64();
        let mut response = ApiError::new(
            ErrorCode::BodyTimeout,
            format!("the request's body did not arrive within {seconds} s of its head"),
        )
        .error_response();
        response
            .head_mut()
            .set_connection_type(actix_web::http::ConnectionType::Close);
        return Ok(ServiceResponse::new(request, response).map_into_right_body());
    }
    outcome.map(ServiceResponse::map_into_left_body)
}

/// The request answered with `response`, its body unread.
fn refuse<B>(req: ServiceRequest, mut response: HttpResponse) -> ServiceResponse<EitherBody<B>> {
    // Whatever body the client goes on sending is not read: the connection ends with the answer.
    response
        .head_mut()
        .set_connection_type(actix_web::http::ConnectionType::Close);
    req.into_response(response).map_into_right_body()
}

/// The actor of an admin request's bearer token, or the refusal: 401, or 429 once its address
/// has failed too often.
async fn authenticate(
    req: &ServiceRequest,
    state: &AppState,
) -> Result<crate::service::Actor, HttpResponse> {
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(super::admin::bearer_token);
    let failure = match token {
        Some(token) => match state.registry.authenticate(token.trim()).await {
            Ok(actor) => return Ok(actor),
            Err(e) => ApiError::from(e),
        },
        None => ApiError::from(ServiceError::Unauthenticated),
    };
    if let (Some(limiter), Some(peer)) = (&state.admin_failures, req.peer_addr())
        && let Some(seconds) = super::wait_of(limiter, peer.ip())
    {
        let problem = ApiError::new(
            ErrorCode::RateLimited,
            format!(
                "too many admin requests without a valid token from this address; try again in \
                 {seconds} s"
            ),
        );
        return Err(problem.retry_after(seconds).error_response());
    }
    Err(failure.error_response())
}

/// The stated length of a request's body: `Some(Some(n))` for `Content-Length: n` (n > 0),
/// `Some(None)` for a chunked body, `None` for none.
fn body_length(headers: &header::HeaderMap) -> Option<Option<usize>> {
    if let Some(length) = headers.get(header::CONTENT_LENGTH) {
        let n = length.to_str().ok()?.trim().parse::<u64>().ok()?;
        return (n > 0).then(|| Some(usize::try_from(n).unwrap_or(usize::MAX)));
    }
    headers
        .contains_key(header::TRANSFER_ENCODING)
        .then_some(None)
}

/// A body that fails once its deadline passes, and says so in `late`.
struct Deadline {
    inner: Payload,
    sleep: Pin<Box<tokio::time::Sleep>>,
    late: Arc<AtomicBool>,
}

impl Stream for Deadline {
    type Item = Result<web::Bytes, actix_web::error::PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if let Poll::Ready(item) = Pin::new(&mut this.inner).poll_next(cx) {
            return Poll::Ready(item);
        }
        if this.sleep.as_mut().poll(cx).is_ready() {
            this.late.store(true, Ordering::Release);
            let timed_out = std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "the body did not arrive in time",
            );
            return Poll::Ready(Some(Err(timed_out.into())));
        }
        Poll::Pending
    }
}
