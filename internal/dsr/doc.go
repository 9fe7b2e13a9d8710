// Package dsr is the data-subject-rights engine (issue 5, item 3;
// PROMISES RIGHTS-1…7): access, export, correct, delete, delete-device,
// withdraw consent and cancel account, answered through one lifecycle
//
//	received → verified → processing → completed | refused
//
// with every step timestamped, appended to the audit log and due within
// 15 working days on the Chinese calendar (RIGHTS-4, package workdays).
//
// The engine knows no table. Each inventory store ("messages",
// "consent_ledger", "quality_logs" …) is covered by a Handler that can
// export, erase and count what it holds about a subject; New refuses an
// inventory whose stored elements name a store without a handler, so a
// new store cannot be added without deciding how rights reach it.
//
// Deletion is crypto-shredding first: the subject's data key is destroyed
// (every sealed value unreadable at once, live and, after the keystore
// window, in backups), then the rows are deleted store by store, then
// every handler is asked again and must report nothing readable. Only
// then is the request completed, with a receipt signed by the server's
// ed25519 key listing per-store counts and the destroyed key ids.
//
// Request records name the subject only by a commitment under the
// subject's own key, so once the subject is erased the record still
// proves what was done, and for whom nobody can tell.
package dsr
