package localapi

import (
	"errors"
	"fmt"
	"net/http"
)

// Error is what a Backend returns to say why a call failed, and what Client
// returns for any non-2xx answer. Message is for a person and says what to do.
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *Error) Error() string { return e.Message }

// Error codes. The CLI maps them to exit codes (see app/cli).
const (
	CodeBadRequest    = "bad_request" // the request makes no sense (bad URL, unknown flag value)
	CodeNotFound      = "not_found"   // no such profile
	CodeConflict      = "conflict"    // e.g. overlapping routes with another profile
	CodeForbidden     = "forbidden"   // caller may not do this (peer credentials), or server refused the user
	CodeSignIn        = "sign_in"     // sign-in failed or was cancelled
	CodeUnavailable   = "unavailable" // server unreachable
	CodeInternal      = "internal"    // anything else
	CodeNoDaemon      = "no_daemon"   // client side only: the daemon is not running
	CodeUnsupportedOS = "unsupported_os"
	// CodeDeviceCap: the server already has as many devices of this
	// account as it allows.
	CodeDeviceCap = "device_cap"
)

// Errorf builds an *Error.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// CodeOf returns the code of err, CodeInternal for foreign errors, "" for nil.
func CodeOf(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}

func httpStatus(code string) int {
	switch code {
	case CodeBadRequest:
		return http.StatusBadRequest
	case CodeNotFound:
		return http.StatusNotFound
	case CodeConflict:
		return http.StatusConflict
	case CodeForbidden:
		return http.StatusForbidden
	case CodeSignIn:
		return http.StatusUnauthorized
	case CodeUnavailable:
		return http.StatusServiceUnavailable
	case CodeUnsupportedOS:
		return http.StatusNotImplemented
	case CodeDeviceCap:
		return http.StatusTooManyRequests
	default:
		return http.StatusInternalServerError
	}
}
