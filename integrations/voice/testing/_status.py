"""How the fake ends an RPC with an error status, as Google would."""

from __future__ import annotations

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

__all__ = ["Abort", "abort"]


class Abort(Exception):
    """Ends an RPC with a status (and optional RetryInfo), as Google would."""

    def __init__(self, code: grpc.StatusCode, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.code, self.message, self.retry_after = code, message, retry_after


def abort(context: grpc.ServicerContext, failure: Abort) -> None:
    """Abort the RPC of `context` with `failure`'s status (RetryInfo attached when set)."""
    if failure.retry_after is None:
        context.abort(failure.code, failure.message)
    detail = any_pb2.Any()
    seconds = int(failure.retry_after or 0)
    nanos = int(((failure.retry_after or 0) - seconds) * 1e9)
    detail.Pack(
        error_details_pb2.RetryInfo(retry_delay=duration_pb2.Duration(seconds=seconds, nanos=nanos))
    )
    status = status_pb2.Status(
        code=failure.code.value[0], message=failure.message, details=[detail]
    )
    context.abort_with_status(rpc_status.to_status(status))
