package server

import (
	"context"
	"log/slog"
	"net/http"
)

// accessLog logs every HTTP request at debug level, as it arrives, by its
// route pattern (e.g. "GET /v1/console/apps/{sdkappid}"), never its path,
// query or client address: paths can hold user and room ids, and an
// address is personal information (no PI in logs). A WebSocket shows up
// when it opens. The browser tests read this log to prove that a visitor
// who refuses consent sends nothing.
func accessLog(log *slog.Logger, mux *http.ServeMux) http.Handler {
	if !log.Enabled(context.Background(), slog.LevelDebug) {
		return mux
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		route := r.Method + " (no route)"
		if _, p := mux.Handler(r); p != "" {
			route = p
		}
		log.Debug("http request", "route", route)
		mux.ServeHTTP(w, r)
	})
}
