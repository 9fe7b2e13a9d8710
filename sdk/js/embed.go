// Package parleyjs embeds the browser SDK (parley.js, an ES module, and
// its TypeScript declarations) so the server can serve it at /sdk/. The
// same files are the npm package (package.json).
package parleyjs

import "embed"

// Files are the ES modules (parley.js, the entry point, and the modules
// it imports) and the TypeScript declarations.
//
//go:embed parley.js errors.js signal.js stats.js im.js parley.d.ts
var Files embed.FS
