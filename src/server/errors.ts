// The edge server's one error shape: every refusal is an HttpError rendered as
// `{error: {code, message}}` with its status, so clients branch on `code`, never on message text.

/** Stable, machine-readable reasons; the HTTP status goes with the code. */
export type ErrorCode =
  | "bad_request"
  | "undecodable_image"
  | "bad_frame"
  | "not_found"
  | "unknown_effect"
  | "method_not_allowed"
  | "upgrade_required"
  | "payload_too_large"
  | "too_many_crops"
  | "range_not_satisfiable"
  | "unsupported_media_type"
  | "wrong_size"
  | "wrong_channels"
  | "rate_limited"
  | "overloaded"
  | "timeout"
  | "shutting_down"
  | "bundle_failed"
  | "cancelled"
  | "internal";

export class HttpError extends Error {
  override name = "HttpError";
  constructor(
    readonly status: number,
    readonly code: ErrorCode,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export interface ErrorBody {
  error: { code: ErrorCode; message: string };
}

export function errorBody(code: ErrorCode, message: string): ErrorBody {
  return { error: { code, message } };
}

export function errorResponse(e: HttpError): Response {
  return new Response(JSON.stringify(errorBody(e.code, e.message)), {
    status: e.status,
    headers: { "content-type": "application/json; charset=utf-8", ...e.headers },
  });
}

/** 503 with Retry-After: the client should back off and try again (overload, timeout, shutdown). */
export function unavailable(
  code: "overloaded" | "timeout" | "shutting_down",
  message: string,
  retryAfterS = 1,
) {
  return new HttpError(503, code, message, { "retry-after": String(retryAfterS) });
}
