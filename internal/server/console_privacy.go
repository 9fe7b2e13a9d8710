package server

import "net/http"

// registerPrivacy mounts the console's privacy endpoints (see
// docs/console.md): policies, disclosure, consent statistics and the DSR
// queue.
func (a *consoleAPI) registerPrivacy(mux *http.ServeMux) {}
