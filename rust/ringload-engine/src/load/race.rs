//! Waiting for whichever of two futures finishes first.

use std::future::Future;
use std::pin::pin;
use std::task::Poll;

/// Which of two futures finished first, with its output.
pub(crate) enum Either<A, B> {
    First(A),
    Second(B),
}

/// Resolves with whichever of `a` and `b` is ready first (`a` when both are); the other is
/// dropped. Pass `future.as_mut()` to keep a pinned future for later.
pub(crate) async fn race<A: Future, B: Future>(a: A, b: B) -> Either<A::Output, B::Output> {
    let (mut a, mut b) = (pin!(a), pin!(b));
    std::future::poll_fn(|cx| {
        if let Poll::Ready(out) = a.as_mut().poll(cx) {
            return Poll::Ready(Either::First(out));
        }
        b.as_mut().poll(cx).map(Either::Second)
    })
    .await
}
