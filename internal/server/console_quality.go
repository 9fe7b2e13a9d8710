package server

import "net/http"

// registerQuality mounts the console's quality dashboard endpoints (see
// docs/console.md).
func (a *consoleAPI) registerQuality(mux *http.ServeMux) {}
