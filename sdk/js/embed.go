// Package parleyjs embeds the browser SDK (parley.js, an ES module, and
// its TypeScript declarations) so the server can serve it at /sdk/. The
// same files are the npm package (package.json).
package parleyjs

import "embed"

// Files are parley.js and parley.d.ts.
//
//go:embed parley.js parley.d.ts
var Files embed.FS
