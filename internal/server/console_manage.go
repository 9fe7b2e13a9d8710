package server

import "net/http"

// registerManage mounts the console's management endpoints (see
// docs/console.md): apps, UserSig, live rooms and usage.
func (a *consoleAPI) registerManage(mux *http.ServeMux) {}
