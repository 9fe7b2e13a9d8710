// Package web holds the browser pages Parley serves, embedded in the
// binary so `parley serve` needs no npm step: the demo app (/demo/) and
// the developer console (/console/). The browser SDK they load lives in
// sdk/js and is served at /sdk/.
package web

import "embed"

// Demo is the demo app: index.html is an html/template (the server fills
// in the development app and the policy in force), the rest is static.
//
//go:embed demo
var Demo embed.FS

// Console is the developer console, a static single page.
//
//go:embed console
var Console embed.FS
